"""Writing audit events into the hash chain, and checking that the chain is whole."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


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


def canonical_body(event: AuditEvent) -> str:
    return json.dumps(_content(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    # audit_append (migration 0003) computes the same digest in PostgreSQL: keep them in step.
    return hashlib.sha256(f"{prev_hash}\n{canonical_body(event)}".encode()).hexdigest()


def _normalise_ip(ip: str | None) -> str | None:
    """The address as the database will return it, so that the hash survives the round trip."""
    if not ip:
        return None
    address = ipaddress.ip_address(ip)
    # PostgreSQL writes ::ffff:10.0.0.1 where Python writes ::ffff:a00:1; keep the IPv4 form.
    return str(getattr(address, "ipv4_mapped", None) or address)


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
    along_with: tuple[str, Sequence[Any]] | None = None,
) -> AuditEvent:
    """Append one event. Inside a transaction it commits with the caller's change.

    ``along_with`` is a write (SQL and its parameters) that must commit with the event or
    not at all; on PostgreSQL the two travel to the server together, in one round trip.
    """
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
        ip=_normalise_ip(ip),
        service=service,
        fields=sorted(fields),
        details=dict(details or {}),
    )
    if connection.vendor != "postgresql":
        _append_in_python(event, along_with)
    elif along_with and connection.in_atomic_block:
        # A savepoint, so that a failed write leaves the caller's transaction usable.
        with transaction.atomic():
            _append_in_database(event, along_with)
    else:
        _append_in_database(event, along_with)
    return event


_APPEND_SQL = (
    "SELECT event_id, event_prev_hash, event_hash FROM audit_append("
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)"
)


def _append_in_database(event: AuditEvent, along_with: tuple[str, Sequence[Any]] | None) -> None:
    # One round trip. Statements sent together run as one transaction when none is open,
    # so outside a transaction the write and its event commit, or fail, together.
    sql, params = _APPEND_SQL, []
    if along_with:
        sql, params = f"{along_with[0]}; {_APPEND_SQL}", list(along_with[1])
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *params,
                canonical_body(event),
                event.created_at,
                event.action,
                event.actor_id,
                event.actor_repr,
                event.credential_id,
                event.credential_ref,
                event.credential_name,
                event.ip,
                event.service,
                json.dumps(event.fields),
                json.dumps(event.details),
            ],
        )
        event.id, event.prev_hash, event.hash = cursor.fetchone()
    event._state.adding = False
    event._state.db = connection.alias


def _append_in_python(event: AuditEvent, along_with: tuple[str, Sequence[Any]] | None) -> None:
    # SQLite (development only) has one writer at a time, which serialises the chain.
    with transaction.atomic(savepoint=along_with is not None):
        if along_with:
            with connection.cursor() as cursor:
                cursor.execute(*along_with)
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"hash": GENESIS_HASH})
        event.prev_hash = head.hash
        event.hash = compute_hash(event.prev_hash, event)
        event.save(force_insert=True)
        head.hash, head.last_event_id = event.hash, event.id
        head.save(update_fields=["hash", "last_event_id"])


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def audit_verify_chain(*, batch_size: int = 2000) -> ChainReport:
    """Walk the chain in order; report the first event that was altered, or follows a removed one.

    The head names the newest event, so removing events from the end is caught too.
    """
    head = AuditChainHead.objects.filter(pk=1).first() or AuditChainHead(hash=GENESIS_HASH)
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = None
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
        last_id = event.id
        checked += 1
    if (head.hash, head.last_event_id) != (expected_prev, last_id):
        return ChainReport(
            checked,
            head.last_event_id or 0,
            f"the chain head names event {head.last_event_id}, but the newest event is {last_id}: "
            "the newest events were removed, or the head was altered",
        )
    return ChainReport(checked)
