"""Appending audit events: each MACed on its own as it is written, so that no append waits on another."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.content import body_of, mac_message, normalise_ip
from audit.keys import get_audit_keys
from audit.models import AuditEvent


def actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    return f"{actor.get_username()} (#{actor.pk})"


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
    The event is linked into the chain later, by the sealer (audit.sealing), off this path.
    """
    if credential is not None:
        credential_ref = str(credential.pk)
        credential_name = credential.name
    event = AuditEvent(
        uid=uuid.uuid4(),
        created_at=timezone.now(),
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_repr=actor_label(actor),
        credential=credential,
        credential_ref=credential_ref,
        credential_name=credential_name,
        ip=normalise_ip(ip),
        service=service,
        fields=sorted(fields),
        details=dict(details or {}),
    )
    event.body = body_of(event)
    event.key_id, event.mac = get_audit_keys().sign(mac_message(event.body))
    if connection.vendor != "postgresql":
        with transaction.atomic(savepoint=along_with is not None):
            if along_with:
                with connection.cursor() as cursor:
                    cursor.execute(*along_with)
            event.save(force_insert=True)
    elif along_with and connection.in_atomic_block:
        # A savepoint, so that a failed write leaves the caller's transaction usable.
        with transaction.atomic():
            _insert(event, along_with)
    else:
        _insert(event, along_with)
    return event


_INSERT_SQL = (
    "INSERT INTO audit_auditevent (uid, created_at, action, actor_id, actor_repr, credential_id, credential_ref, "
    "credential_name, ip, service, fields, details, body, mac, key_id) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s) RETURNING id"
)


def _insert(event: AuditEvent, along_with: tuple[str, Sequence[Any]] | None) -> None:
    # One round trip, and no lock: the event is a plain insert. Statements sent together run as
    # one transaction when none is open, so outside a transaction the write and its event commit,
    # or fail, together.
    sql, params = _INSERT_SQL, []
    if along_with:
        sql, params = f"{along_with[0]}; {_INSERT_SQL}", list(along_with[1])
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *params,
                event.uid,
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
                event.body,
                event.mac,
                event.key_id,
            ],
        )
        (event.id,) = cursor.fetchone()
    event._state.adding = False
    event._state.db = connection.alias
