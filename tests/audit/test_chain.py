"""The audit trail: each event MACed under the audit key, linked into a keyed chain, pinned by checkpoints.

Tampering is done as an attacker with the database's own rights would: triggers off, rows
altered, removed, reordered, or the whole trail truncated and rebuilt.
"""

import json
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.checkpoints import audit_checkpoint, read_checkpoints
from audit.content import event_body
from audit.keys import get_audit_keys
from audit.models import AuditEvent, AuditLink
from audit.sealing import audit_seal
from audit.services import audit_record
from audit.verification import audit_verify_chain
from tests.factories import make_credential


def record(n, **kwargs):
    return [audit_record(action="tested", service="chain-test", details={"n": i}, **kwargs) for i in range(n)]


def checkpoint(path) -> list:
    audit_checkpoint(sink=str(path))
    found, unreadable = read_checkpoints(path.read_text())
    assert not unreadable
    return found


def test_each_event_carries_its_own_mac_and_the_sealer_links_them(db):
    events = record(3)
    assert all(e.mac and e.key_id == get_audit_keys().signing_key_id for e in events)
    assert not AuditLink.objects.exists()  # appending links nothing: no append waits on another
    report = audit_verify_chain()
    assert report.ok and (report.checked, report.unlinked) == (3, 3)
    assert audit_seal() == 3
    assert list(AuditLink.objects.order_by("seq").values_list("seq", "event_id")) == [
        (n, e.pk) for n, e in enumerate(events, start=1)
    ]
    report = audit_verify_chain()
    assert report.ok and (report.checked, report.linked, report.unlinked) == (3, 3, 0)
    assert audit_seal() == 0


def test_an_empty_trail_verifies(db, tmp_path):
    assert audit_verify_chain(checkpoints=checkpoint(tmp_path / "cp")).ok


def test_an_altered_event_is_named(db, tamper_with_audit):
    events = record(4)
    audit_seal()
    AuditEvent.objects.filter(pk=events[2].pk).update(details={"n": 99})
    report = audit_verify_chain()
    assert report.first.event_id == events[2].pk and "details" in report.first.reason


def test_an_altered_body_fails_its_mac(db, tamper_with_audit):
    (event,) = record(1)
    AuditEvent.objects.filter(pk=event.pk).update(body=event.body.replace('"n":0', '"n":1'))
    report = audit_verify_chain()
    assert report.first.event_id == event.pk and "does not match its MAC" in report.first.reason


def test_an_event_forged_without_the_key_is_caught(db, tamper_with_audit):
    (event,) = record(1)
    forged = event_body(
        uid=str(uuid.uuid4()), created_at=timezone.now(), action="accessed", actor="root (#1)", credential="",
        credential_name="", ip=None, service="", fields=[], details={},
    )  # fmt: skip
    AuditEvent.objects.create(
        uid=json.loads(forged)["uid"], created_at=timezone.now(), action="accessed", actor_repr="root (#1)",
        body=forged, mac="0" * 64, key_id=event.key_id,
    )  # fmt: skip
    report = audit_verify_chain()
    assert not report.ok and "MAC" in report.first.reason


def test_a_removed_linked_event_is_caught(db, tamper_with_audit):
    events = record(4)
    audit_seal()
    AuditLink.objects.filter(event_id=events[1].pk).delete()
    AuditEvent.objects.filter(pk=events[1].pk).delete()
    report = audit_verify_chain(find_all=True)
    assert not report.ok
    assert any("missing" in b.reason or "chain MAC" in b.reason for b in report.breaks)


def test_reordered_links_are_caught(db, tamper_with_audit):
    events = record(3)
    audit_seal()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditlink SET seq = -seq WHERE seq IN (1, 2)")
        cursor.execute("UPDATE audit_auditlink SET seq = 2 WHERE seq = -1")
        cursor.execute("UPDATE audit_auditlink SET seq = 1 WHERE seq = -2")
    report = audit_verify_chain()
    assert report.first.event_id == events[1].pk and "chain MAC" in report.first.reason


def test_swapped_event_contents_are_caught(db, tamper_with_audit):
    first, second = record(2)
    audit_seal()
    columns = ("uid", "body", "mac", "details")
    a = AuditEvent.objects.values(*columns).get(pk=first.pk)
    b = AuditEvent.objects.values(*columns).get(pk=second.pk)
    AuditEvent.objects.filter(pk=first.pk).update(uid=uuid.uuid4())
    AuditEvent.objects.filter(pk=second.pk).update(**a)
    AuditEvent.objects.filter(pk=first.pk).update(**b)
    report = audit_verify_chain()
    assert "replaced" in report.first.reason


def test_removing_the_newest_events_is_caught_by_a_checkpoint(db, tamper_with_audit, tmp_path):
    events = record(3)
    found = checkpoint(tmp_path / "checkpoints.log")
    assert [c.seq for c in found] == [3]
    assert audit_verify_chain(checkpoints=found).ok
    AuditLink.objects.filter(event_id=events[2].pk).delete()
    AuditEvent.objects.filter(pk=events[2].pk).delete()
    assert audit_verify_chain().ok, "without the checkpoint a cut tail cannot be seen: that is what it is for"
    report = audit_verify_chain(checkpoints=found)
    assert "checkpoint on line 1" in report.first.where and "newest events were removed" in report.first.reason


def test_a_truncated_and_rebuilt_trail_is_caught(db, tamper_with_audit, tmp_path):
    """Even by someone holding the audit key, who rebuilds a trail whose every MAC verifies."""
    record(3)
    found = checkpoint(tmp_path / "checkpoints.log")
    with connection.cursor() as cursor:  # emptied, as TRUNCATE would (a statement every database has)
        cursor.execute("DELETE FROM audit_auditlink")
        cursor.execute("DELETE FROM audit_auditevent")
    for n in (0, 2):  # the history they would rather have had
        audit_record(action="tested", service="chain-test", details={"n": n})
    audit_record(action="tested", service="chain-test", details={"n": 3})
    audit_seal()
    assert audit_verify_chain().ok
    report = audit_verify_chain(checkpoints=found)
    assert "checkpoint on line 1" in report.first.where and "rewritten or rebuilt" in report.first.reason


def test_an_altered_checkpoint_is_refused(db, tmp_path):
    record(2)
    path = tmp_path / "checkpoints.log"
    audit_checkpoint(sink=str(path))
    path.write_text(path.read_text().replace('"seq":2', '"seq":1'))
    found, _ = read_checkpoints(path.read_text())
    report = audit_verify_chain(checkpoints=found)
    assert "does not verify" in report.first.reason


def test_all_reports_every_break(db, tamper_with_audit):
    events = record(5)
    audit_seal()
    for event in (events[1], events[3]):
        AuditEvent.objects.filter(pk=event.pk).update(service="elsewhere")
    assert len(audit_verify_chain().breaks) == 1
    report = audit_verify_chain(find_all=True)
    assert [b.event_id for b in report.breaks] == [events[1].pk, events[3].pk]


def test_an_event_left_unlinked_too_long_is_reported(db, tamper_with_audit):
    (event,) = record(1)
    later = timezone.now() + timedelta(minutes=10)
    report = audit_verify_chain(now=later)
    assert report.first.event_id == event.pk and "never linked" in report.first.reason
    audit_seal()
    assert audit_verify_chain(now=later).ok


def test_the_mac_survives_its_credential_and_actor_being_deleted(owner, stranger):
    from credentials.errors import CredentialNotFound
    from credentials.services import credential_delete, credential_reveal

    credential = make_credential(owner)
    with pytest.raises(CredentialNotFound):
        credential_reveal(actor=stranger, credential_id=credential.pk, service="tests")
    credential_delete(actor=owner, credential_id=credential.pk)
    stranger.delete()
    audit_seal()
    assert audit_verify_chain().ok
    assert AuditEvent.objects.filter(credential__isnull=True).count() == 3
    denied = AuditEvent.objects.get(action="access_denied")
    assert denied.actor is None and denied.actor_repr.startswith("stranger (#")


def test_the_database_refuses_changes_deletions_and_truncation(postgres_only):
    from django.db import InternalError, transaction

    (event,) = record(1)
    audit_seal()
    for attempt in (
        lambda: AuditEvent.objects.filter(pk=event.pk).update(details={"n": 99}),
        lambda: AuditEvent.objects.filter(pk=event.pk).update(credential_ref="elsewhere"),
        lambda: connection.cursor().execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk]),
        lambda: AuditLink.objects.filter(event_id=event.pk).update(chain_mac="0" * 64),
        lambda: AuditLink.objects.filter(event_id=event.pk).delete(),
        # Immediate: TRUNCATE refuses to run while this test's deferred foreign-key checks are pending.
        lambda: connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE; TRUNCATE audit_auditevent CASCADE"),
        lambda: connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE; TRUNCATE audit_auditlink"),
    ):
        with pytest.raises(InternalError, match="append-only"), transaction.atomic():
            attempt()
    assert audit_verify_chain().ok


@pytest.mark.parametrize(
    ("given_ip", "kept"),
    [("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("::ffff:10.0.0.1", "10.0.0.1"), ("10.0.0.1", "10.0.0.1")],
)
def test_ips_are_kept_as_the_database_returns_them(db, given_ip, kept):
    audit_record(action="accessed", ip=given_ip)
    assert AuditEvent.objects.get().ip == kept
    assert audit_verify_chain().ok


@pytest.mark.parametrize("number", [1e16, -0.0, 1.5e-7, 10**30, -(2**63), 1.7976931348623157e308, 0.1])
def test_numbers_the_database_respells_raise_no_false_alarm(db, number):
    audit_record(action="tested", details={"value": number, "nested": [number, {"x": number}]})
    audit_seal()
    assert audit_verify_chain().ok


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8),
                      children, max_size=4),
    max_leaves=12,
)  # fmt: skip


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(details=st.dictionaries(st.text(max_size=8).filter(lambda s: "\x00" not in s), _json, max_size=5))
def test_any_json_details_round_trip_the_database_and_verify(postgres_only, details):
    event = audit_record(action="tested", details=details)
    report = audit_verify_chain()
    assert report.ok, (report.first, AuditEvent.objects.get(pk=event.pk).details)


def test_verify_audit_chain_command(db, capsys, tamper_with_audit, tmp_path):
    events = record(2)
    path = tmp_path / "checkpoints.log"
    call_command("audit_checkpoint", sink=str(path))
    call_command("verify_audit_chain", checkpoints=path)
    assert "2 events checked (2 linked, 0 not yet), 1 checkpoints" in capsys.readouterr().out
    AuditEvent.objects.filter(pk=events[1].pk).update(action="accessed")
    AuditEvent.objects.filter(pk=events[0].pk).update(service="elsewhere")
    with pytest.raises(CommandError, match=f"broken at event {events[0].pk}"):
        call_command("verify_audit_chain", checkpoints=path)
    with pytest.raises(CommandError, match="broken in 2 places") as caught:
        call_command("verify_audit_chain", find_all=True)
    assert f"event {events[1].pk}" in str(caught.value)


def test_checkpoints_go_to_stdout_and_to_syslog(db, capsys, tmp_path):
    import socket

    record(1)
    call_command("audit_checkpoint", sink="stdout")
    (line,) = capsys.readouterr().out.splitlines()
    found, _ = read_checkpoints(line)
    assert found[0].seq == 1 and found[0].verifies()

    address = str(tmp_path / "log.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(address)
    receiver.settimeout(5)
    try:
        with override_settings(AUDIT_CHECKPOINT_SINK=f"syslog:{address}"):
            call_command("audit_checkpoint")
        message = receiver.recv(65536).decode()
    finally:
        receiver.close()
    assert message.startswith("<")  # a syslog priority
    found, _ = read_checkpoints(message)
    assert found[0].seq == 1 and found[0].verifies()


def test_audit_keys_rotate_without_rewriting_old_events(db, settings, fresh_key, tmp_path):
    old = record(2)
    found = checkpoint(tmp_path / "cp")
    settings.AUDIT_KEYS = [fresh_key, *settings.AUDIT_KEYS]
    new = record(1)
    audit_seal()
    assert new[0].key_id != old[0].key_id
    assert audit_verify_chain(checkpoints=found).ok
    settings.AUDIT_KEYS = [fresh_key]  # the old key removed too early: its events no longer verify
    report = audit_verify_chain()
    assert "not configured" in report.first.reason
