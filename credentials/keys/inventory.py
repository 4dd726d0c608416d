"""Which keys protect which rows and versions: the facts an operator needs before removing a key from FERNET_KEYS."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Model, Q, QuerySet

from credentials.keys.ring import DecryptionError, KeyRing, get_keyring
from credentials.models import Credential, CredentialVersion
from credentials.type_cache import type_of_credential

BATCH = 2000


@dataclass(frozen=True)
class Unreadable:
    credential_id: str
    name: str
    reason: str
    version: int | None = None  # a kept version's number; None for the credential's own row

    def __str__(self) -> str:
        where = f" version {self.version}" if self.version is not None else ""
        return f"{self.name} ({self.credential_id}){where}: {self.reason}"


@dataclass(frozen=True)
class SealedTable:
    """A table of sealed payloads, read alike for counting, checking and rotating.

    ``columns`` are read in this order: the row's own key, its credential's id, name and type id,
    the number its payload is bound to, its key id and its ciphertext.
    """

    label: str  # "rows" or "versions", as the reports and the rotated event say
    model: type[Model]
    columns: tuple[str, str, str, str, str, str, str]
    kept: Q  # the rows holding a payload: a destroyed version holds none, and no key
    numbered: bool  # an unreadable one is named with its version number

    def objects(self) -> QuerySet:
        return self.model._default_manager.filter(self.kept).order_by()

    def unreadable(self, credential_id: object, name: str, number: int, exc: DecryptionError) -> Unreadable:
        version = number if self.numbered else None
        return Unreadable(credential_id=str(credential_id), name=name, reason=str(exc), version=version)


ROWS = SealedTable(
    "rows", Credential, ("pk", "id", "name", "type_id", "secret_version", "key_id", "ciphertext"), Q(), False
)
VERSIONS = SealedTable(
    "versions",
    CredentialVersion,
    ("pk", "credential_id", "credential__name", "credential__type_id", "number", "key_id", "ciphertext"),
    Q(destroyed_at__isnull=True),
    True,
)
TABLES = (ROWS, VERSIONS)


@dataclass
class KeyReport:
    """Rows and kept versions per key id, in FERNET_KEYS order, and every one no configured key opens."""

    configured: tuple[str, ...]
    rows_by_key: Counter = field(default_factory=Counter)
    versions_by_key: Counter = field(default_factory=Counter)
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unreadable

    def by_key(self, table: SealedTable) -> Counter:
        return self.versions_by_key if table.numbered else self.rows_by_key


def key_report(*, keyring: KeyRing | None = None, verify: bool = True) -> KeyReport:
    """Count the rows and kept versions under each key id and, with ``verify``, open each to prove it decrypts.

    Each table is read in primary-key order a batch at a time, so memory stays bounded whatever
    its size. Opened values are dropped at once: nothing is kept, shown or logged.
    """
    keyring = keyring or get_keyring()
    report = KeyReport(configured=keyring.key_ids)
    for table in TABLES:
        _check(table, report, keyring, verify)
    return report


def _check(table: SealedTable, report: KeyReport, keyring: KeyRing, verify: bool) -> None:
    rows = table.objects().order_by("pk").values_list(*table.columns)
    counts = report.by_key(table)
    last = None
    while True:
        batch = list((rows.filter(pk__gt=last) if last is not None else rows)[:BATCH])
        if not batch:
            return
        for _, credential_id, name, type_id, number, key_id, ciphertext in batch:
            counts[key_id] += 1
            if not verify and key_id in keyring.key_ids:
                continue
            try:
                keyring.open(
                    credential_id=credential_id,
                    type_slug=type_of_credential(type_id).slug,
                    number=number,
                    ciphertext=ciphertext,
                    key_id=key_id,
                )
            except DecryptionError as exc:
                report.unreadable.append(table.unreadable(credential_id, name, number, exc))
        last = batch[-1][0]
