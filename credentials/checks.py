"""System checks: the encryption keys must be present and well-formed before anything starts."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

from credentials.keys.ring import key_problems


@register(Tags.security)
def check_fernet_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if not settings.FERNET_KEYS:
        return [
            Error(
                "FERNET_KEYS is not set, so credentials can be neither stored nor read.",
                hint="Generate a key with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'` and set FERNET_KEYS to it. "
                "Only DEBUG=1 (the embedded development mode) makes a key of its own.",
                id="latchkey.E001",
            )
        ]
    return [
        Error(problem, hint="Each key is what Fernet.generate_key() prints.", id="latchkey.E002")
        for problem in key_problems(settings.FERNET_KEYS)
    ]


@register()
def check_max_versions(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.CREDENTIAL_MAX_VERSIONS >= 1:
        return []
    return [
        Error(
            "CREDENTIAL_MAX_VERSIONS must be 1 or more: the current version is always kept.",
            id="latchkey.E005",
        )
    ]
