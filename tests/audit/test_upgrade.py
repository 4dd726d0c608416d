"""Upgrading a trail written by the unkeyed hash chain: verified first, then signed; a broken one is refused."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.sealing import audit_seal
from audit.verification import audit_verify_chain

BEFORE = [("audit", "0005_alter_auditevent_action")]
OLD_GENESIS = "0" * 64


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    # Every app's: going back unapplies other apps' migrations that depend on these (credentials' on audit's).
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _old_trail(apps, count: int, details=None) -> list:
    from importlib import import_module

    old_hash = import_module("audit.migrations.0006_keyed_events")._old_hash
    Event = apps.get_model("audit", "AuditEvent")
    events, prev = [], OLD_GENESIS
    for number in range(count):
        event = Event(
            created_at=datetime(2026, 11, 1, 12, number, tzinfo=UTC),
            action="tested",
            actor_repr="system",
            service="legacy",
            fields=["token"],
            details={"n": number, **(details or {})},
            prev_hash=prev,
        )
        event.hash = old_hash(prev, event)
        event.save()
        events.append(event)
        prev = event.hash
    return events


@pytest.mark.django_db(transaction=True)
def test_an_intact_old_trail_is_signed_and_verifies():
    latest = _latest()
    apps = _migrate(BEFORE)
    try:
        _old_trail(apps, 3)
    finally:
        _migrate(latest)
    audit_seal()
    report = audit_verify_chain(find_all=True)
    assert report.ok and report.checked == report.linked == 3, report.breaks


@pytest.mark.django_db(transaction=True)
def test_an_honest_number_the_database_respelled_needs_the_operator_s_word(monkeypatch):
    """The old chain breaks on 1e16 (stored as 10000000000000000): the upgrade cannot tell that from
    tampering, so it stops, naming the event, until an operator who checked it lists it."""
    latest = _latest()
    apps = _migrate(BEFORE)
    try:
        events = _old_trail(apps, 3, details={"big": 1e16})
        with pytest.raises(RuntimeError, match=f"Audit event {events[0].pk} does not match.*AUDIT_UPGRADE_ACCEPT"):
            _migrate(latest)
        monkeypatch.setenv("AUDIT_UPGRADE_ACCEPT_EVENTS", ",".join(str(e.pk) for e in events))
        _migrate(latest)
    finally:
        _migrate(latest)
    audit_seal()
    assert audit_verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_a_broken_old_trail_stops_the_upgrade_naming_the_event():
    latest = _latest()
    apps = _migrate(BEFORE)
    try:
        events = _old_trail(apps, 3)
        apps.get_model("audit", "AuditEvent").objects.filter(pk=events[1].pk).update(service="rewritten")
        with pytest.raises(RuntimeError, match=f"Audit event {events[1].pk} does not match.*differs from its hash"):
            _migrate(latest)
    finally:
        apps.get_model("audit", "AuditEvent").objects.all().delete()
        _migrate(latest)
