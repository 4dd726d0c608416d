"""Appending audit events: each MACed on its own as it is written, so that no append waits on another."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict, Unpack, cast

from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.db.models.sql.subqueries import InsertQuery, UpdateQuery
from django.utils import timezone

from audit.content import body_of, mac_message, normalise_ip
from audit.keys import get_audit_keys
from audit.models import AuditEvent


def actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    return f"{actor.get_username()} (#{actor.pk})"


class EventFacts(TypedDict, total=False):
    """What an event may say beyond its action; audit_record's keywords."""

    actor: Any  # the user who acted; None (the default) where the system acts
    credential: Any  # its id and name are copied into the event, so they outlive it
    credential_ref: str
    credential_name: str
    ip: str | None
    service: str
    fields: Iterable[str]  # the names of the fields involved, never their values
    details: Mapping[str, Any]
    uid: uuid.UUID | None  # chosen by the caller when a row written with the event refers to it (by uid)


def audit_record(*, action: str, **facts: Unpack[EventFacts]) -> AuditEvent:
    """Append one event. Inside a transaction it commits with the caller's change.

    The event is linked into the chain later, by the sealer (audit.sealing), off this path.
    """
    event = _signed_event(action, facts)
    _write(event, None)
    return event


def audit_record_insert(*instances: Model, action: str, **facts: Unpack[EventFacts]) -> AuditEvent:
    """Insert new rows and append their event (as audit_record's): all commit, or none.

    On PostgreSQL the row's INSERT, built by Django's own insert compiler as ``Model.save()``
    builds it, travels with the event in one round trip, with no BEGIN and COMMIT of its own:
    `make bench`'s create figure (goal 1.5x a bare INSERT pair in a transaction) measured 1.57x
    with ``transaction.atomic()`` around ``save()`` and the event. Each instance is then saved:
    a later ``save()`` updates it. Rows are inserted in the order given, so a row may refer to
    one before it; one referring to the event does so by its ``uid`` (foreign keys are checked
    at commit).
    """
    statements = []
    for instance in instances:
        fields = [field for field in instance._meta.local_concrete_fields if not field.generated]
        query = InsertQuery(type(instance))
        query.insert_values(fields, [instance])
        [statement] = query.get_compiler(connection=connection).as_sql()
        statements.append(statement)
    recorded = _record_with(statements, _signed_event(action, facts))
    # What Model.save() records once the row exists, so a later save() updates the row.
    for instance in instances:
        instance._state.adding = False
        instance._state.db = connection.alias
    return recorded


def audit_record_update(
    queryset: QuerySet, values: Mapping[str, Any], *, action: str, **facts: Unpack[EventFacts]
) -> AuditEvent:
    """``queryset.update(**values)`` and an event (as audit_record's), together, as above."""
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))  # chain(klass) answers a klass
    query.add_update_values(dict(values))
    statement = query.get_compiler(connection=connection).as_sql()
    return _record_with([statement], _signed_event(action, facts))


def _record_with(statements: list[tuple[str, Sequence[Any]]], event: AuditEvent) -> AuditEvent:
    """Writes built by Django's compilers (above), sent with their event; all commit, or none.

    Outside a transaction the statements, sent as one message, are PostgreSQL's one
    implicit transaction; inside the caller's, a savepoint keeps it usable if the write fails.
    """
    if statements and connection.in_atomic_block and connection.vendor == "postgresql":
        with transaction.atomic():
            _write(event, statements)
    else:
        _write(event, statements)
    return event


def _signed_event(action: str, facts: EventFacts) -> AuditEvent:
    actor = facts.get("actor")
    credential = facts.get("credential")
    event = AuditEvent(
        uid=facts.get("uid") or uuid.uuid4(),
        created_at=timezone.now(),
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_repr=actor_label(actor),
        credential=credential,
        credential_ref=str(credential.pk) if credential is not None else facts.get("credential_ref", ""),
        credential_name=credential.name if credential is not None else facts.get("credential_name", ""),
        ip=normalise_ip(facts.get("ip")),
        service=facts.get("service", ""),
        fields=sorted(facts.get("fields", ())),
        details=dict(facts.get("details") or {}),
    )
    event.body = body_of(event)
    event.key_id, event.mac = get_audit_keys().sign(mac_message(event.body))
    return event


def _write(event: AuditEvent, along_with: list[tuple[str, Sequence[Any]]] | None) -> None:
    """The event, and the writes that must commit with it if any."""
    if connection.vendor != "postgresql":
        with transaction.atomic(savepoint=bool(along_with)):
            with connection.cursor() as cursor:
                for statement in along_with or ():
                    cursor.execute(*statement)
            event.save(force_insert=True)
    else:
        _insert(event, along_with)


_INSERT_SQL = (
    "INSERT INTO audit_auditevent (uid, created_at, action, actor_id, actor_repr, credential_id, credential_ref, "
    "credential_name, ip, service, fields, details, body, mac, key_id) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s) RETURNING id"
)


def _insert(event: AuditEvent, along_with: list[tuple[str, Sequence[Any]]] | None) -> None:
    # One round trip, and no lock: the event is a plain insert. Statements sent together run as
    # one transaction when none is open, so outside a transaction the write and its event commit,
    # or fail, together.
    sql, params = _INSERT_SQL, []
    if along_with:
        sql = "; ".join([*(statement for statement, _ in along_with), _INSERT_SQL])
        params = [param for _, statement_params in along_with for param in statement_params]
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
