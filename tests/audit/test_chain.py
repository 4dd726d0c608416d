"""The audit trail's hash chain: recording, verifying, and catching altered or removed rows."""

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from audit.models import AuditEvent
from audit.services import GENESIS_HASH, audit_record, audit_verify_chain
from tests.factories import make_credential


def record(n, **kwargs):
    return [audit_record(action="tested", service="chain-test", details={"n": i}, **kwargs) for i in range(n)]


def test_events_form_a_chain_from_genesis(db):
    events = record(3)
    assert events[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    report = audit_verify_chain()
    assert report.ok and report.checked == 3


def test_an_empty_trail_verifies(db):
    assert audit_verify_chain().ok


def test_an_altered_row_is_named(db, tamper_with_audit):
    events = record(4)
    AuditEvent.objects.filter(pk=events[2].pk).update(details={"n": 99})
    report = audit_verify_chain()
    assert (report.broken_id, report.checked) == (events[2].pk, 2)
    assert "altered" in report.reason


def test_a_removed_row_is_caught_at_the_next_one(db, tamper_with_audit):
    events = record(4)
    AuditEvent.objects.filter(pk=events[1].pk).delete()
    report = audit_verify_chain()
    assert report.broken_id == events[2].pk and "removed" in report.reason


def test_removing_the_newest_events_is_caught_by_the_head(db, tamper_with_audit):
    events = record(3)
    AuditEvent.objects.filter(pk=events[2].pk).delete()
    report = audit_verify_chain()
    assert not report.ok and report.checked == 2
    assert f"names event {events[2].pk}" in report.reason and "newest events were removed" in report.reason


def test_the_head_follows_the_newest_event(db):
    from audit.models import AuditChainHead

    assert not AuditChainHead.objects.exists()  # made by the first append
    first, last = record(2)
    assert first.prev_hash == GENESIS_HASH
    head = AuditChainHead.objects.get()
    assert (head.hash, head.last_event_id) == (last.hash, last.pk)


def test_the_hash_survives_its_credential_and_actor_being_deleted(owner, stranger):
    from credentials.errors import CredentialNotFound
    from credentials.services import credential_delete, credential_reveal

    credential = make_credential(owner)
    with pytest.raises(CredentialNotFound):
        credential_reveal(actor=stranger, credential_id=credential.pk, service="tests")
    credential_delete(actor=owner, credential_id=credential.pk)
    stranger.delete()
    assert audit_verify_chain().ok
    assert AuditEvent.objects.filter(credential__isnull=True).count() == 3
    denied = AuditEvent.objects.get(action="access_denied")
    assert denied.actor is None and denied.actor_repr.startswith("stranger (#")


def test_the_database_refuses_changes_and_deletions(postgres_only):
    from django.db import InternalError, transaction

    (event,) = record(1)
    for attempt in (
        lambda: AuditEvent.objects.filter(pk=event.pk).update(details={"n": 99}),
        lambda: AuditEvent.objects.filter(pk=event.pk).update(credential_ref="elsewhere"),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
    ):
        with pytest.raises(InternalError, match="append-only"), transaction.atomic():
            attempt()
    assert audit_verify_chain().ok


@pytest.mark.parametrize(
    ("given", "kept"),
    [("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("::ffff:10.0.0.1", "10.0.0.1"), ("10.0.0.1", "10.0.0.1")],
)
def test_ips_are_kept_as_the_database_returns_them(db, given, kept):
    audit_record(action="accessed", ip=given)
    assert AuditEvent.objects.get().ip == kept
    assert audit_verify_chain().ok


def test_python_and_database_agree_on_the_hash(db):
    # On PostgreSQL audit_append hashes in SQL; verification recomputes in Python.
    from audit.services import compute_hash

    for event in record(3, ip="127.0.0.1"):
        stored = AuditEvent.objects.get(pk=event.pk)
        assert (stored.prev_hash, stored.hash) == (event.prev_hash, event.hash)
        assert compute_hash(stored.prev_hash, stored) == stored.hash
    unicode_event = audit_record(action="created", credential_name="naïve ☃ name", details={"k": "é"})
    assert compute_hash(unicode_event.prev_hash, AuditEvent.objects.get(pk=unicode_event.pk)) == unicode_event.hash


def test_verify_audit_chain_command(db, capsys, tamper_with_audit):
    events = record(2)
    call_command("verify_audit_chain")
    assert "2 events checked" in capsys.readouterr().out
    AuditEvent.objects.filter(pk=events[1].pk).update(action="accessed")
    with pytest.raises(CommandError, match=f"broken at event {events[1].pk}"):
        call_command("verify_audit_chain")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain(postgres_only):
    # Each thread has its own connection and transaction: without the chain lock two of them
    # would read the same head and write siblings, which verification reports as broken.
    def write_many():
        try:
            record(25)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert connection.vendor == "postgresql"
    report = audit_verify_chain()
    assert report.ok and report.checked == 100
