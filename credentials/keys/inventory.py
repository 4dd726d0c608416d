"""Which keys protect which rows: the facts an operator needs before removing a key from FERNET_KEYS."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from credentials.keys.ring import DecryptionError, KeyRing, get_keyring
from credentials.models import Credential

BATCH = 2000


@dataclass(frozen=True)
class Unreadable:
    credential_id: str
    name: str
    reason: str


@dataclass
class KeyReport:
    """Rows per key id, in FERNET_KEYS order, and every row that no configured key opens."""

    configured: tuple[str, ...]
    rows_by_key: Counter = field(default_factory=Counter)
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unreadable


def key_report(*, keyring: KeyRing | None = None, verify: bool = True) -> KeyReport:
    """Count the rows under each key id and, with ``verify``, open every row to prove it still decrypts.

    Rows are read in primary-key order a batch at a time, so memory stays bounded whatever the
    table's size. Opened values are dropped at once: nothing is kept, shown or logged.
    """
    keyring = keyring or get_keyring()
    report = KeyReport(configured=keyring.key_ids)
    rows = Credential.objects.order_by("pk").values_list("pk", "name", "type__slug", "key_id", "ciphertext")
    last = None
    while True:
        batch = list((rows.filter(pk__gt=last) if last is not None else rows)[:BATCH])
        if not batch:
            return report
        for pk, name, type_slug, key_id, ciphertext in batch:
            report.rows_by_key[key_id] += 1
            if not verify and key_id in keyring.key_ids:
                continue
            try:
                keyring.open(credential_id=pk, type_slug=type_slug, ciphertext=ciphertext, key_id=key_id)
            except DecryptionError as exc:
                report.unreadable.append(Unreadable(credential_id=str(pk), name=name, reason=str(exc)))
        last = batch[-1][0]
