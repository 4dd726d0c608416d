"""The credentials app: discovers credential types and mirrors them into the table after migrate."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


def _sync_types(sender: AppConfig, **kwargs: Any) -> None:
    from credentials.services import credential_types_sync

    credential_types_sync()


class CredentialsConfig(AppConfig):
    name = "credentials"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from credentials import checks  # noqa: F401  (registers the key checks)
        from credentials.types import autodiscover

        autodiscover()
        from credentials.models import CredentialType
        from credentials.type_cache import clear_type_cache

        # Like contenttypes and permissions, the table follows the code after every migrate.
        post_migrate.connect(_sync_types, sender=self, dispatch_uid="credentials.sync_types")
        from credentials.teams import ensure_manage_team_permission

        post_migrate.connect(ensure_manage_team_permission, sender=self, dispatch_uid="credentials.manage_team")
        from credentials.permissions import forget_permission_ids

        # Any app's migrate (or a test flush) may recreate permission rows under new ids.
        post_migrate.connect(forget_permission_ids, dispatch_uid="credentials.forget_permission_ids")
        for signal in (post_save, post_delete):
            signal.connect(clear_type_cache, sender=CredentialType, dispatch_uid=f"credentials.types.{signal}")
