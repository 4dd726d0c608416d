"""Credential tests: request one (queued on commit), run it in a worker, sweep stuck ones, re-test daily.

A test's state lives on the credential's row: ``test_status`` (running, passed, failed),
``test_message`` (redacted), ``last_tested``, ``test_failures`` (in a row), and the run in
progress (``test_run``, ``test_started_at``). Tasks carry ids only; a message delivered twice
finds its run over and does nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.dispatch import Signal
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record, audit_record_update
from config.actors import Actor
from config.background_runs import BackgroundRuns
from config.events import raise_event
from credentials import events
from credentials.door import credential_reveal
from credentials.errors import CredentialNotFound, RevealRefused, TestQueueUnavailable
from credentials.locking import lock_credential_for
from credentials.models import Credential, CredentialTestStatus
from credentials.permissions import USE
from credentials.redaction import Redactor
from credentials.testers import TestOutcome, tester_for
from credentials.type_cache import type_by_pk

logger = logging.getLogger(__name__)

SERVICE = "credential-test"
REQUESTED = "request"
SCHEDULED = "schedule"

TEST_RUNS = BackgroundRuns(
    model=Credential,
    status_field="test_status",
    run_field="test_run",
    started_field="test_started_at",
    busy=(CredentialTestStatus.RUNNING,),
    time_limit_setting="CREDENTIAL_TEST_TIME_LIMIT",  # the task's time limit too (config/settings.py)
    grace=timedelta(seconds=30),
)


def is_flagged(failures: int) -> bool:
    """Failed this many times in a row: worth a person's attention (lists and the report say so)."""
    return failures >= settings.CREDENTIAL_TEST_FLAG_AFTER


# --- Requesting a test ---------------------------------------------------------------------------


def credential_test_request(*, actor: Actor, credential_id: uuid.UUID | str, ip: str | None = None) -> Credential:
    """Queue a test of the credential (needs *use*); a test already running is not started again.

    The task is queued when the transaction commits. If the broker cannot take it,
    TestQueueUnavailable is raised and the credential's status is put back as it was.
    """
    with transaction.atomic():
        credential = lock_credential_for(actor, credential_id, USE)
        if TEST_RUNS.is_running(credential, timezone.now()):
            return credential
        _start(credential, actor_id=actor.pk, trigger=REQUESTED, ip=ip)
    return credential


def _start(credential: Credential, *, actor_id: int, trigger: str, ip: str | None = None) -> None:
    """Mark the locked row running under a new run id, and queue its task once that is committed."""
    from credentials.tasks import credential_test_task  # it imports this module

    run, previous = TEST_RUNS.start(credential, CredentialTestStatus.RUNNING)
    pk = credential.pk

    def undo() -> None:
        TEST_RUNS.of_run(pk, run).update(test_status=previous["test_status"], test_run=None, test_started_at=None)

    TEST_RUNS.queue_on_commit(
        credential_test_task,
        (str(pk), str(run), actor_id, trigger, ip),
        what=f"credential test {pk}",
        unavailable=TestQueueUnavailable,
        undo=undo,
        logger=logger,
    )


# --- Running it (in the worker) -----------------------------------------------------------------


def credential_test_run(
    *, credential_id: Any, run: Any, actor_id: Any, trigger: str = REQUESTED, ip: str | None = None
) -> str | None:
    """Run the test of ``run`` if it is still the credential's current run; return the status recorded.

    Returns None, doing nothing, when the run is over (a message delivered twice), was replaced
    by a newer one, or the credential is gone.
    """
    run = uuid.UUID(str(run))
    # Only what the check needs; the type comes from the per-process cache, not a join.
    credential = (
        TEST_RUNS.current(credential_id, run)
        .only("name", "type_id", "test_run", "test_status", "test_failures")
        .first()
    )
    if credential is None:
        return None
    credential.type = type_by_pk(credential.type_id)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id is not None else None
    started = time.monotonic()
    redactor = Redactor()
    outcome = _outcome(credential, actor, redactor, ip)
    duration_ms = round((time.monotonic() - started) * 1000)
    return _finish(credential, run, outcome, actor=actor, trigger=trigger, duration_ms=duration_ms, ip=ip)


def _outcome(credential: Credential, actor: Actor | None, redactor: Redactor, ip: str | None) -> TestOutcome:
    tester = tester_for(credential.type)
    if tester is None:
        return TestOutcome(False, f"Credentials of type {credential.type.name} have no test.")
    try:
        secret = credential_reveal(actor=actor, credential_id=credential.pk, service=SERVICE, ip=ip)
    except RevealRefused as exc:
        # The run has just found the row: "not found" from the door means whoever asked may no longer see it.
        if isinstance(exc, CredentialNotFound):
            return TestOutcome(False, "Whoever asked for this test may no longer use this credential.")
        return TestOutcome(False, str(exc))
    for value in secret.secret_values:
        redactor.add(value)
    return tester.test(secret, redactor)


def _finish(
    credential: Credential,
    run: uuid.UUID,
    outcome: TestOutcome,
    *,
    actor: Actor | None,
    trigger: str,
    duration_ms: int,
    ip: str | None,
) -> str:
    """Record the result on the row, if this run is still its run, and the test's audit event, together.

    The event is written whatever became of the row: the test did run. A newer run, or the
    sweep's verdict being replaced, only decides what the row shows.
    """
    status = CredentialTestStatus.PASSED if outcome.passed else CredentialTestStatus.FAILED
    details = {
        "status": status.value,
        "message": outcome.message,
        "trigger": trigger,
        "run": str(run),
        "duration_ms": duration_ms,
        **({"facts": outcome.facts} if outcome.facts else {}),
    }
    record = partial(
        audit_record_update,
        Credential.objects.filter(pk=credential.pk, test_run=run),
        _result_values(status, outcome.message),
        action=AuditAction.TESTED, actor=actor, credential=credential, ip=ip, service=SERVICE, details=details,
    )  # fmt: skip
    if _turn(outcome.passed, credential.test_failures) is None:
        record()  # most results: the row and its event in one round trip, and nothing to announce
        return status.value
    with transaction.atomic():
        # The count read when the run started may have moved (the sweep failed this run meanwhile, and
        # counted it, which _result_values does not count again): read it locked.
        row = TEST_RUNS.of_run(credential.pk, run).select_for_update().values_list("test_status", "test_failures")
        before = next(iter(row), None)
        record()
        if before is not None and not (before[0] == CredentialTestStatus.FAILED and not outcome.passed):
            turn = _turn(outcome.passed, before[1])
            if turn is not None:
                failures = before[1] + (0 if outcome.passed else 1)
                raise_event(turn, Credential, credential_id=credential.pk, failures=failures)
    return status.value


def _turn(passed: bool, failures_before: int) -> Signal | None:
    """The event a result raises: failures in a row reaching the flag, or a pass after a flagged run."""
    if passed:
        return events.test_recovered if is_flagged(failures_before) else None
    return events.test_failing if failures_before + 1 == settings.CREDENTIAL_TEST_FLAG_AFTER else None


def _result_values(status: str, message: str) -> dict[str, Any]:
    """The row's columns once a run is over: its result, and its count of failures in a row."""
    failed_before = Q(test_status=CredentialTestStatus.FAILED)
    return {
        "test_status": status,
        "test_message": message,
        "last_tested": timezone.now(),
        "test_run": None,
        "test_started_at": None,
        # A run the sweep already failed (its id is kept for this) has had its failure counted.
        "test_failures": Value(0)
        if status == CredentialTestStatus.PASSED
        else Case(When(failed_before, then=F("test_failures")), default=F("test_failures") + 1),
    }


# --- Scheduled work (Celery beat) ---------------------------------------------------------------


def credential_tests_sweep(*, older_than: timedelta | None = None) -> int:
    """Mark tests still running past their time limit as failed (their worker died); return how many."""
    swept = 0
    for credential_id in TEST_RUNS.stuck(older_than=older_than).values_list("pk", flat=True):
        with transaction.atomic():
            credential = (
                Credential.objects.select_for_update(skip_locked=True)
                .filter(pk=credential_id, test_status=CredentialTestStatus.RUNNING)
                .first()
            )
            if credential is None:
                continue
            message = TEST_RUNS.overdue_message("test", "Run it again.")
            credential.test_status = CredentialTestStatus.FAILED
            credential.test_message = message
            credential.last_tested = timezone.now()
            credential.test_failures += 1
            # test_run stays: should the run report after all, its real result replaces this one.
            credential.save(update_fields=["test_status", "test_message", "last_tested", "test_failures"])
            if _turn(False, credential.test_failures - 1) is not None:
                raise_event(
                    events.test_failing, Credential, credential_id=credential.pk, failures=credential.test_failures
                )
            audit_record(
                action=AuditAction.TESTED,
                credential=credential,
                service=SERVICE,
                details={"status": "failed", "message": message, "trigger": "sweep", "run": str(credential.test_run)},
            )
            swept += 1
    return swept


def credential_retest_scheduled() -> int:
    """Queue a test of every active, unexpired credential that asks for a daily re-test; return how many.

    Scheduled tests act as the credential's owner, who may always use it; their audit events
    say they were scheduled.
    """
    now = timezone.now()
    due = (
        Credential.objects.filter(retest_daily=True, is_active=True)
        .exclude(expires_at__lte=now)
        .values_list("pk", flat=True)
    )
    queued = 0
    for credential_id in due:
        with transaction.atomic():
            credential = Credential.objects.select_for_update(skip_locked=True).filter(pk=credential_id).first()
            if credential is None or TEST_RUNS.is_running(credential, now):
                continue
            _start(credential, actor_id=credential.owner_id, trigger=SCHEDULED)
        queued += 1
    return queued
