"""The plugins app: repositories registered by users and cloned with a credential they may use."""

from django.apps import AppConfig


class PluginsConfig(AppConfig):
    name = "plugins"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from credentials.usage import register_usage_source
        from plugins.selectors import plugins_using

        # A credential's usage lists the plugins cloning with it (GET /api/credentials/{id}/usage/).
        register_usage_source("plugins", plugins_using)
