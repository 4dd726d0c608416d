"""The notifications app: domain events turned into e-mails and signed webhooks, each reaching only who may see it."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from credentials.keys.inventory import register_sealed_table
        from notifications import receivers
        from notifications.webhooks.secrets import SEALED_SECRETS

        receivers.connect()
        register_sealed_table(SEALED_SECRETS)
