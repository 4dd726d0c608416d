"""Credential tests: request one (queued on commit), run it in a worker, sweep stuck ones, re-test daily.

A test's state lives on the credential's row: ``test_status`` (running, passed, failed),
``test_message`` (redacted), ``last_tested``, ``test_failures`` (in a row), and the run in
progress (``test_run``, ``test_started_at``). Tasks carry ids only; a message delivered twice
finds its run over and does nothing.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from credentials.door import credential_reveal
from credentials.errors import (
    CredentialNotFound,
    CredentialPermissionDenied,
    CredentialUnavailable,
    TestQueueUnavailable,
)
from credentials.keys.ring import DecryptionError
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
# How long past the task's time limit a run may stay "running" before the sweep calls it failed.
SWEEP_GRACE = timedelta(seconds=30)


def stuck_after() -> timedelta:
    return timedelta(seconds=settings.CREDENTIAL_TEST_TIME_LIMIT) + SWEEP_GRACE


def is_flagged(failures: int) -> bool:
    """Failed this many times in a row: worth a person's attention (lists and the report say so)."""
    return failures >= settings.CREDENTIAL_TEST_FLAG_AFTER


def _is_running(credential: Credential, now: Any) -> bool:
    return (
        credential.test_status == CredentialTestStatus.RUNNING
        and credential.test_started_at is not None
        and credential.test_started_at > now - stuck_after()
    )


# --- Requesting a test ---------------------------------------------------------------------------


def credential_test_request(*, actor: Any, credential_id: Any, ip: str | None = None) -> Credential:
    """Queue a test of the credential (needs *use*); a test already running is not started again.

    The task is queued when the transaction commits. If the broker cannot take it,
    TestQueueUnavailable is raised and the credential's status is put back as it was.
    """
    with transaction.atomic():
        credential = lock_credential_for(actor, credential_id, USE)
        if _is_running(credential, timezone.now()):
            return credential
        _start(credential, actor_id=actor.pk, trigger=REQUESTED, ip=ip)
    return credential


def _start(credential: Credential, *, actor_id: Any, trigger: str, ip: str | None = None) -> None:
    """Mark the locked row running under a new run id, and queue its task once that is committed."""
    previous = credential.test_status
    credential.test_status = CredentialTestStatus.RUNNING
    credential.test_run = uuid.uuid4()
    credential.test_started_at = timezone.now()
    credential.save(update_fields=["test_status", "test_run", "test_started_at"])
    transaction.on_commit(
        functools.partial(
            _queue,
            credential_id=credential.pk,
            run=credential.test_run,
            actor_id=actor_id,
            trigger=trigger,
            ip=ip,
            previous=previous,
        )
    )


def _queue(
    *, credential_id: uuid.UUID, run: uuid.UUID, actor_id: Any, trigger: str, ip: str | None, previous: str
) -> None:
    from kombu.exceptions import OperationalError

    from credentials.tasks import credential_test_task

    try:
        # Ids and plain facts only: broker messages are readable by whoever reads the broker.
        credential_test_task.apply_async(args=[str(credential_id), str(run), actor_id, trigger, ip])
    except (OperationalError, OSError) as exc:
        # The broker's URL may hold its password: log the kind of failure, not the message.
        logger.warning("Could not queue credential test %s: %s", credential_id, type(exc).__name__)
        Credential.objects.filter(pk=credential_id, test_run=run).update(
            test_status=previous, test_run=None, test_started_at=None
        )
        raise TestQueueUnavailable() from None


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
    credential = Credential.objects.only("name", "type_id", "test_run", "test_status").filter(pk=credential_id).first()
    if credential is None or credential.test_run != run or credential.test_status != CredentialTestStatus.RUNNING:
        return None
    credential.type = type_by_pk(credential.type_id)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id is not None else None
    started = time.monotonic()
    redactor = Redactor()
    outcome = _outcome(credential, actor, redactor, ip)
    duration_ms = round((time.monotonic() - started) * 1000)
    return _finish(credential, run, outcome, actor=actor, trigger=trigger, duration_ms=duration_ms, ip=ip)


def _outcome(credential: Credential, actor: Any, redactor: Redactor, ip: str | None) -> TestOutcome:
    tester = tester_for(credential.type)
    if tester is None:
        return TestOutcome(False, f"Credentials of type {credential.type.name} have no test.")
    try:
        secret = credential_reveal(actor=actor, credential_id=credential.pk, service=SERVICE, ip=ip)
    except CredentialNotFound:
        return TestOutcome(False, "Whoever asked for this test may no longer use this credential.")
    except (CredentialPermissionDenied, CredentialUnavailable, DecryptionError) as exc:
        return TestOutcome(False, str(exc))
    for value in secret.secret_values:
        redactor.add(value)
    return tester.test(secret, redactor)


def _finish(
    credential: Credential,
    run: uuid.UUID,
    outcome: TestOutcome,
    *,
    actor: Any,
    trigger: str,
    duration_ms: int,
    ip: str | None,
) -> str:
    """Record the result on the row, if this run is still its run, and the test's audit event, together.

    The event is written whatever became of the row: the test did run. A newer run, or the
    sweep's verdict being replaced, only decides what the row shows.
    """
    status = CredentialTestStatus.PASSED if outcome.passed else CredentialTestStatus.FAILED
    audit_record(
        action=AuditAction.TESTED,
        actor=actor,
        credential=credential,
        ip=ip,
        service=SERVICE,
        details={
            "status": status.value,
            "message": outcome.message,
            "trigger": trigger,
            "run": str(run),
            "duration_ms": duration_ms,
            **({"facts": outcome.facts} if outcome.facts else {}),
        },
        # One round trip on PostgreSQL: the row's UPDATE travels with the event.
        along_with=_result_statement(credential.pk, run, status, outcome.message),
    )
    return status.value


def _result_statement(credential_id: uuid.UUID, run: uuid.UUID, status: str, message: str) -> tuple[str, list[Any]]:
    def prep(name: str, value: Any) -> Any:
        return Credential._meta.get_field(name).get_db_prep_value(value, connection)

    table = connection.ops.quote_name(Credential._meta.db_table)
    sql = (
        f"UPDATE {table} SET test_status = %s, test_message = %s, last_tested = %s, test_run = NULL, "  # noqa: S608
        # A run the sweep already failed (its id is kept for this) has had its failure counted.
        "test_started_at = NULL, test_failures = CASE WHEN %s THEN 0 WHEN test_status = 'failed' "
        "THEN test_failures ELSE test_failures + 1 END "
        "WHERE id = %s AND test_run = %s"
    )
    passed = status == CredentialTestStatus.PASSED
    params = [
        status,
        message,
        prep("last_tested", timezone.now()),
        passed,
        prep("id", credential_id),
        prep("test_run", run),
    ]
    return sql, params


# --- Scheduled work (Celery beat) ---------------------------------------------------------------


def credential_tests_sweep(*, older_than: timedelta | None = None) -> int:
    """Mark tests still running past their time limit as failed (their worker died); return how many."""
    cutoff = timezone.now() - (older_than if older_than is not None else stuck_after())
    stuck = Credential.objects.filter(
        Q(test_started_at__lt=cutoff) | Q(test_started_at__isnull=True), test_status=CredentialTestStatus.RUNNING
    )
    swept = 0
    for credential_id in stuck.values_list("pk", flat=True):
        with transaction.atomic():
            credential = (
                Credential.objects.select_for_update(skip_locked=True)
                .filter(pk=credential_id, test_status=CredentialTestStatus.RUNNING)
                .first()
            )
            if credential is None:
                continue
            message = (
                f"The test did not finish within {int(stuck_after().total_seconds())} s: "
                "the worker running it may have stopped. Run it again."
            )
            credential.test_status = CredentialTestStatus.FAILED
            credential.test_message = message
            credential.last_tested = timezone.now()
            credential.test_failures += 1
            # test_run stays: should the run report after all, its real result replaces this one.
            credential.save(update_fields=["test_status", "test_message", "last_tested", "test_failures"])
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
            if credential is None or _is_running(credential, now):
                continue
            _start(credential, actor_id=credential.owner_id, trigger=SCHEDULED)
        queued += 1
    return queued
