"""Credential tests when things break: the broker down (503, nothing left running), a worker killed mid-test."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from credentials.models import Credential
from credentials.services import credential_create
from credentials.testers.runs import credential_tests_sweep
from tests.factories import make_credential
from tests.integration import servers
from tests.integration.conftest import broker_at

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]


def test_broker_down_answers_503_and_leaves_nothing_running(broker, owner):
    credential = make_credential(owner, "github_pat")
    client = APIClient()
    client.force_authenticate(owner)
    dead = f"redis://{servers.LOOPBACK}:{servers.free_port()}/0"

    started = time.monotonic()
    with broker_at(dead):
        response = client.post(f"/api/credentials/{credential.pk}/test/")

    assert response.status_code == 503, response.content
    assert response.json() == {
        "detail": "The test queue is unavailable; try again in a minute.",
        "code": "unavailable",
    }
    assert time.monotonic() - started < 15, "a dead broker must be reported quickly"
    stored = Credential.objects.get(pk=credential.pk)
    assert (stored.test_status, stored.test_run, stored.test_started_at) == ("", None, None)
    assert not AuditEvent.objects.filter(credential_ref=str(credential.pk), action="tested").exists()


def test_a_worker_killed_during_a_test_is_swept_to_failed(killable_worker, owner):
    client = APIClient()
    client.force_authenticate(owner)
    with servers.silent_server() as port:
        # PostgreSQL that never answers: the test waits out its 5 s connect timeout, long enough to kill it.
        fields = {
            "host": servers.LOOPBACK,
            "port": port,
            "database": "app",
            "username": "app",
            "password": "password-1",
        }
        credential = credential_create(actor=owner, type_slug="postgres", name="hangs", fields=fields)
        assert client.post(f"/api/credentials/{credential.pk}/test/").status_code == 202
        run = Credential.objects.get(pk=credential.pk).test_run

        # The worker has the test once the one door has handed it the secret.
        deadline = time.monotonic() + 20
        while not AuditEvent.objects.filter(credential_ref=str(credential.pk), action="accessed").exists():
            assert time.monotonic() < deadline, killable_worker.log_text()[-2000:]
            time.sleep(0.05)
        # A second request while it runs does not start a second test.
        again = client.post(f"/api/credentials/{credential.pk}/test/")
        assert again.status_code == 202 and again.json()["test_status"] == "running"
        assert Credential.objects.get(pk=credential.pk).test_run == run
        killable_worker.kill()

    assert Credential.objects.get(pk=credential.pk).test_status == "running"
    # Nothing is swept before the time limit; then the sweep (every minute under beat) fails it.
    assert credential_tests_sweep() == 0
    assert credential_tests_sweep(older_than=timedelta(0)) == 1

    stored = Credential.objects.get(pk=credential.pk)
    assert stored.test_status == "failed"
    assert "did not finish" in stored.test_message and "may have stopped" in stored.test_message
    assert stored.test_failures == 1
    event = AuditEvent.objects.get(credential_ref=str(credential.pk), action="tested")
    assert event.details["trigger"] == "sweep" and event.details["run"] == str(run)
    assert credential_tests_sweep(older_than=timedelta(0)) == 0
