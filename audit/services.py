"""Writing audit events into the hash chain, and checking that the chain is whole."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent

GENESIS_HASH = "0" * 64
# Any constant will do: it names the one advisory lock that serialises appends to the chain.
_CHAIN_LOCK_KEY = 0x4C4B_4155  # "LKAU"


def actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    return f"{actor.get_username()} (#{actor.pk})"


def _content(event: AuditEvent) -> dict[str, Any]:
    """What the hash covers. Not the FKs, which become NULL when a user or credential goes."""
    return {
        "created_at": event.created_at.astimezone(UTC).isoformat(),
        "action": event.action,
        "actor": event.actor_repr,
        "credential": event.credential_ref,
        "credential_name": event.credential_name,
        "ip": event.ip,
        "service": event.service,
        "fields": list(event.fields),
        "details": event.details,
    }


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    body = json.dumps(_content(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _lock_chain() -> None:
    # Two writers reading the same head would fork the chain: take a lock held until commit.
    # SQLite (development only) has one writer at a time already.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def audit_record(
    *,
    action: str,
    actor: Any = None,
    credential: Any = None,
    credential_ref: str = "",
    credential_name: str = "",
    ip: str | None = None,
    service: str = "",
    fields: Iterable[str] = (),
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Joins the caller's transaction, so the event commits with the change."""
    if credential is not None:
        credential_ref = str(credential.pk)
        credential_name = credential.name
    event = AuditEvent(
        created_at=timezone.now(),
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_repr=actor_label(actor),
        credential=credential,
        credential_ref=credential_ref,
        credential_name=credential_name,
        # Stored as the database normalises it, so the hash survives the round trip.
        ip=str(ipaddress.ip_address(ip)) if ip else None,
        service=service,
        fields=sorted(fields),
        details=dict(details or {}),
    )
    # savepoint=False: no extra round trips; an error rolls back the caller's whole change.
    with transaction.atomic(savepoint=False):
        _lock_chain()
        head = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event.prev_hash = head or GENESIS_HASH
        event.hash = compute_hash(event.prev_hash, event)
        event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def audit_verify_chain(*, batch_size: int = 2000) -> ChainReport:
    """Walk the chain in order; report the first event that was altered, or follows a removed one."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size):
        if event.prev_hash != expected_prev:
            return ChainReport(
                checked,
                event.id,
                "its prev_hash does not match the event before it: an event was removed or altered",
            )
        if compute_hash(event.prev_hash, event) != event.hash:
            return ChainReport(checked, event.id, "its content does not match its hash: it was altered")
        expected_prev = event.hash
        checked += 1
    return ChainReport(checked)
