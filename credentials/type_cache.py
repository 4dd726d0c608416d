"""Credential type rows, cached per process: reference data read on every create and every use.

Like Django's ContentType cache. A save or delete in this process clears it at once; other
processes see a change within TYPE_CACHE_SECONDS (a type's slug never changes once saved).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from credentials.models import CredentialType

TYPE_CACHE_SECONDS = 30.0

_lock = threading.Lock()
_rows: dict[tuple[str, Any], tuple[float, CredentialType]] = {}


def _cached(key: tuple[str, Any]) -> CredentialType | None:
    hit = _rows.get(key)
    if hit is not None and time.monotonic() - hit[0] < TYPE_CACHE_SECONDS:
        return hit[1]
    row = CredentialType.objects.filter(**{key[0]: key[1]}).first()
    if row is None:
        return None
    row.spec  # noqa: B018  (build the behaviour once, outside the hot path)
    stamp = time.monotonic()
    with _lock:
        _rows[("slug", row.slug)] = (stamp, row)
        _rows[("pk", row.pk)] = (stamp, row)
    return row


def type_by_slug(slug: str) -> CredentialType | None:
    return _cached(("slug", slug))


def type_by_pk(pk: int) -> CredentialType | None:
    return _cached(("pk", pk))


def type_of_credential(type_id: int) -> CredentialType:
    """The type a credential's ``type_id`` names: its foreign key protects the row, so it is there."""
    row = type_by_pk(type_id)
    if row is None:
        raise CredentialType.DoesNotExist(f"No credential type has the id {type_id}.")
    return row


def clear_type_cache(**kwargs: Any) -> None:
    with _lock:
        _rows.clear()
