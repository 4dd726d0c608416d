"""The key ring: Fernet encryption of credential payloads, bound to their row, under named keys."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.views.decorators.debug import sensitive_variables

from config.keylists import key_list_problems
from credentials.errors import CredentialUnreadable

PAYLOAD_VERSION = 1


class KeyConfigError(ImproperlyConfigured):
    """FERNET_KEYS is missing or malformed; the message names positions, never values."""


class DecryptionError(CredentialUnreadable):
    """A stored payload could not be opened; the message names the credential and the reason.

    A CredentialUnreadable, so that the door's callers meet it as the door's member for an unreadable
    row, while the key commands and the tests still tell a tampered row from a misbound one."""

    reason = "cannot be decrypted"

    def __init__(self, credential_id: Any, detail: str = ""):
        self.credential_id = str(credential_id)
        message = f"Credential {self.credential_id}: the stored secret {self.reason}"
        super().__init__(f"{message} ({detail})." if detail else f"{message}.")


class UnknownKeyError(DecryptionError):
    reason = "is encrypted under a key that is not configured in FERNET_KEYS"


class TamperedError(DecryptionError):
    reason = "failed authentication: it was altered, or its key id does not match"


class MisboundError(DecryptionError):
    reason = "belongs to another credential, type or version: it was copied from another row"


def key_id_for(key: bytes) -> str:
    """A short, stable name for a key that reveals nothing about it."""
    return hashlib.sha256(b"latchkey key id\x00" + base64.urlsafe_b64decode(key)).hexdigest()[:16]


def key_problems(raw_keys: Sequence[str]) -> list[str]:
    """What is wrong with a list of keys, each problem naming a 1-based position, never a value."""
    return key_list_problems(raw_keys, setting="FERNET_KEYS", kind="Fernet key")


@dataclass(frozen=True)
class Sealed:
    ciphertext: str
    key_id: str


class KeyRing:
    """Encrypts with the first key, decrypts with the key a row names; payloads carry their row and number.

    The number is the payload's version (CredentialVersion.number, Credential.secret_version): a
    version's token copied to another row or number fails as a moved row does. Payloads sealed
    before versions were numbered carry none, and count as number 1, which is what they were.
    """

    def __init__(self, raw_keys: Sequence[str]):
        if not raw_keys:
            raise KeyConfigError("FERNET_KEYS is empty: at least one key is needed.")
        problems = key_problems(raw_keys)
        if problems:
            raise KeyConfigError(" ".join(problems))
        self._fernets = {key_id_for(raw.encode()): Fernet(raw.encode()) for raw in raw_keys}
        self.key_ids: tuple[str, ...] = tuple(self._fernets)
        self.primary_key_id = self.key_ids[0]

    def __repr__(self) -> str:
        return f"<KeyRing primary={self.primary_key_id} keys={len(self.key_ids)}>"

    @sensitive_variables("data", "plaintext")
    def seal(self, *, credential_id: Any, type_slug: str, number: int, data: dict[str, Any]) -> Sealed:
        plaintext = json.dumps(
            {"v": PAYLOAD_VERSION, "credential": str(credential_id), "type": type_slug, "n": number, "data": data},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        token = self._fernets[self.primary_key_id].encrypt(plaintext)
        return Sealed(ciphertext=token.decode("ascii"), key_id=self.primary_key_id)

    @sensitive_variables("plaintext", "payload")
    def open(self, *, credential_id: Any, type_slug: str, number: int, ciphertext: str, key_id: str) -> dict[str, Any]:
        _, payload = self._open(credential_id, type_slug, number, ciphertext, key_id)
        return payload["data"]

    @sensitive_variables("plaintext", "payload")
    def reseal(self, *, credential_id: Any, type_slug: str, number: int, ciphertext: str, key_id: str) -> Sealed:
        """The same payload under the primary key, for rotation: opened and checked as ``open`` does.

        The authenticated bytes are encrypted again as they are, never rebuilt, so the row id, type
        and number they are bound to cannot change; a row that fails ``open`` is refused, not laundered
        under the new key.
        """
        plaintext, _ = self._open(credential_id, type_slug, number, ciphertext, key_id)
        token = self._fernets[self.primary_key_id].encrypt(plaintext)
        return Sealed(ciphertext=token.decode("ascii"), key_id=self.primary_key_id)

    @sensitive_variables("plaintext", "payload")
    def _open(
        self, credential_id: Any, type_slug: str, number: int, ciphertext: str, key_id: str
    ) -> tuple[bytes, dict[str, Any]]:
        fernet = self._fernets.get(key_id)
        if fernet is None:
            raise UnknownKeyError(credential_id, f"key id {key_id or '(none)'}")
        try:
            plaintext = fernet.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise TamperedError(credential_id) from None
        payload = json.loads(plaintext)
        if payload.get("v") != PAYLOAD_VERSION:
            raise TamperedError(credential_id, f"unknown payload version {payload.get('v')!r}")
        if payload.get("credential") != str(credential_id) or payload.get("type") != type_slug:
            raise MisboundError(credential_id)
        if payload.get("n", 1) != number:
            raise MisboundError(credential_id, f"sealed as version {payload.get('n', 1)}, read as version {number}")
        return plaintext, payload


@functools.cache
def get_keyring() -> KeyRing:
    """The process's key ring, built once from settings.FERNET_KEYS."""
    if not settings.FERNET_KEYS:
        raise KeyConfigError(
            "FERNET_KEYS is not set. Generate a key with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
            "and set FERNET_KEYS to it (comma-separate several: the first encrypts, all decrypt). "
            "Only the embedded development mode (DEBUG=1) makes a key of its own."
        )
    return KeyRing(settings.FERNET_KEYS)


@receiver(setting_changed)
def _reset_keyring(*, setting: str, **kwargs: Any) -> None:
    if setting in ("FERNET_KEYS", "DEBUG"):
        get_keyring.cache_clear()
