"""Third-party apps named for an operator in the admin: what each does here, not the package's name."""

from __future__ import annotations

from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig


class LockoutsConfig(AxesAppConfig):
    """django-axes: failed sign-ins and the lockouts they cause."""

    verbose_name = "Sign-in lockouts"


class TokensConfig(AppConfig):
    """django-rest-knox: the API's tokens (hashed; the token itself is shown once, when made)."""

    name = "knox"
    verbose_name = "API tokens"
