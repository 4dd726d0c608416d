"""The accounts app: a signed-in person's own API tokens (named, listed, revoked) and password."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
