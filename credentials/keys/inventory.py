"""Which keys protect which sealed values: the facts an operator needs before removing a key from FERNET_KEYS.

Credential rows and their kept versions are listed here; another app that seals values with the key
ring (notifications: webhook endpoints' secrets) registers its table, so that counting, checking and
rotating cover it too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
    is_credential: bool = True  # False for another sealed value (a webhook endpoint's secret)

    def __str__(self) -> str:
        where = f" version {self.version}" if self.version is not None else ""
        return f"{self.name} ({self.credential_id}){where}: {self.reason}"


@dataclass(frozen=True)
class SealedTable:
    """A table of sealed payloads, read alike for counting, checking and rotating.

    ``columns`` are read in this order: the row's own key, the id its payload is bound to (its
    credential's), its name, what ``slug_of`` reads for the binding's type (a credential's type id),
    the number its payload is bound to, its key id and its ciphertext.
    """

    label: str  # "rows", "versions", "webhook endpoints": as the reports and the rotated event say
    model: type[Model]
    columns: tuple[str, str, str, str, str, str, str]
    kept: Q  # the rows holding a payload: a destroyed version holds none, and no key
    numbered: bool  # an unreadable one is named with its version number
    slug_of: Callable[[Any], str] = field(default=lambda type_id: type_of_credential(type_id).slug)
    noun: str = ""  # what an unreadable one is called before its name; a credential's is its name alone

    def objects(self) -> QuerySet:
        return self.model._default_manager.filter(self.kept).order_by()

    def unreadable(self, credential_id: object, name: str, number: int, exc: DecryptionError) -> Unreadable:
        version = number if self.numbered else None
        named = f"{self.noun} {name}" if self.noun else name
        return Unreadable(
            credential_id=str(credential_id), name=named, reason=str(exc), version=version, is_credential=not self.noun
        )


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
TABLES: list[SealedTable] = [ROWS, VERSIONS]


def register_sealed_table(table: SealedTable) -> None:
    """Count, check and rotate ``table`` with the credentials' (an app's ready(), once)."""
    if all(known.label != table.label for known in TABLES):
        TABLES.append(table)


@dataclass
class KeyReport:
    """Rows and kept versions per key id, in FERNET_KEYS order, and every one no configured key opens."""

    configured: tuple[str, ...]
    counts: dict[str, Counter] = field(default_factory=dict)  # per table label, per key id
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unreadable

    @property
    def rows_by_key(self) -> Counter:
        return self.counts.setdefault(ROWS.label, Counter())

    @property
    def versions_by_key(self) -> Counter:
        return self.counts.setdefault(VERSIONS.label, Counter())

    def by_key(self, table: SealedTable) -> Counter:
        return self.counts.setdefault(table.label, Counter())

    def key_ids(self) -> set[str]:
        return {key_id for counter in self.counts.values() for key_id in counter}

    def protects(self, key_id: str) -> bool:
        return any(counter.get(key_id) for counter in self.counts.values())

    def described(self, key_id: str) -> str:
        """ "3 rows, 9 versions, 1 webhook endpoints": each table's count under ``key_id``."""
        return ", ".join(f"{self.by_key(table).get(key_id, 0)} {table.label}" for table in TABLES)


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
                    type_slug=table.slug_of(type_id),
                    number=number,
                    ciphertext=ciphertext,
                    key_id=key_id,
                )
            except DecryptionError as exc:
                report.unreadable.append(table.unreadable(credential_id, name, number, exc))
        last = batch[-1][0]
