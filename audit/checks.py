"""System checks: the audit keys must be present and well-formed before anything starts."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

from audit.keys import audit_key_problems


@register(Tags.security)
def check_audit_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if not settings.AUDIT_KEYS:
        return [
            Error(
                "AUDIT_KEYS is not set, so audit events can be neither written nor verified.",
                hint="Generate a key with `python manage.py generate_encryption_key` and set AUDIT_KEYS to it. "
                "Only DEBUG=1 (the embedded development mode) makes a key of its own.",
                id="latchkey.E003",
            )
        ]
    return [
        Error(problem, hint="Each key is 32 random bytes, URL-safe base64.", id="latchkey.E004")
        for problem in audit_key_problems(settings.AUDIT_KEYS)
    ]
