"""Celery tasks for credentials: each takes ids and calls a service (testers.runs, the access sweep)."""

from __future__ import annotations

from celery import shared_task

from credentials.access.sweep import access_sweep
from credentials.expiry import expiry_sweep
from credentials.testers import runs


@shared_task(name="credentials.test", acks_late=True, ignore_result=True)
def credential_test_task(
    credential_id: str, run: str, actor_id: int | None, trigger: str = "request", ip: str | None = None
) -> None:
    runs.credential_test_run(credential_id=credential_id, run=run, actor_id=actor_id, trigger=trigger, ip=ip)


@shared_task(name="credentials.sweep_stuck_tests", ignore_result=True)
def credential_tests_sweep_task() -> None:
    runs.credential_tests_sweep()


@shared_task(name="credentials.retest_scheduled", ignore_result=True)
def credential_retest_scheduled_task() -> None:
    runs.credential_retest_scheduled()


@shared_task(name="credentials.sweep_access", ignore_result=True)
def access_sweep_task() -> None:
    access_sweep()


@shared_task(name="credentials.sweep_expiry", ignore_result=True)
def expiry_sweep_task() -> None:
    expiry_sweep()
