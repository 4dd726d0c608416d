"""The audit keys: HMAC-SHA256 under keys from AUDIT_KEYS (the first signs, every one verifies)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from config.keylists import key_list_problems


class AuditKeyConfigError(ImproperlyConfigured):
    """AUDIT_KEYS is missing or malformed; the message names positions, never values."""


def audit_key_problems(raw_keys: Sequence[str]) -> list[str]:
    """What is wrong with a list of audit keys, each problem naming a 1-based position, never a value."""
    return key_list_problems(raw_keys, setting="AUDIT_KEYS", kind="audit key")


def audit_key_id(key: bytes) -> str:
    """A short, stable name for an audit key that reveals nothing about it."""
    return hashlib.sha256(b"latchkey audit key id\x00" + key).hexdigest()[:16]


class AuditKeys:
    """Signs with the first key; verifies with the key an event or link names, so old keys keep verifying."""

    def __init__(self, raw_keys: Sequence[str]):
        if not raw_keys:
            raise AuditKeyConfigError("AUDIT_KEYS is empty: at least one key is needed.")
        problems = audit_key_problems(raw_keys)
        if problems:
            raise AuditKeyConfigError(" ".join(problems))
        keys = [base64.urlsafe_b64decode(raw.encode("ascii")) for raw in raw_keys]
        self._keys = {audit_key_id(key): key for key in keys}
        self.signing_key_id = audit_key_id(keys[0])

    def __repr__(self) -> str:
        return f"<AuditKeys signing={self.signing_key_id} keys={len(self._keys)}>"

    def sign(self, message: bytes) -> tuple[str, str]:
        """The signing key's id and its HMAC-SHA256 of ``message`` (hex)."""
        return self.signing_key_id, self.mac(self.signing_key_id, message)

    def mac(self, key_id: str, message: bytes) -> str:
        """The MAC of ``message`` under the key ``key_id``; KeyError if no configured key has that id."""
        return hmac.new(self._keys[key_id], message, hashlib.sha256).hexdigest()

    def verify(self, key_id: str, message: bytes, mac: str) -> bool:
        """Whether ``mac`` is ``message``'s MAC under ``key_id`` (False for an unknown key)."""
        if key_id not in self._keys:
            return False
        return hmac.compare_digest(self.mac(key_id, message), mac)

    def knows(self, key_id: str) -> bool:
        return key_id in self._keys


@functools.cache
def get_audit_keys() -> AuditKeys:
    """The process's audit keys, built once from settings.AUDIT_KEYS."""
    if not settings.AUDIT_KEYS:
        raise AuditKeyConfigError(
            "AUDIT_KEYS is not set. Generate a key with `python manage.py generate_encryption_key` "
            "and set AUDIT_KEYS to it (comma-separate several: the first signs, all verify). "
            "Only the embedded development mode (DEBUG=1) makes a key of its own."
        )
    return AuditKeys(settings.AUDIT_KEYS)


@receiver(setting_changed)
def _reset_audit_keys(*, setting: str, **kwargs: Any) -> None:
    if setting in ("AUDIT_KEYS", "DEBUG"):
        get_audit_keys.cache_clear()
