"""Celery beat tasks of the audit trail: link committed events into the chain, and write checkpoints."""

from celery import shared_task

from audit.checkpoints import audit_checkpoint
from audit.sealing import audit_seal


@shared_task(name="audit.seal", ignore_result=True)
def audit_seal_task() -> int:
    return audit_seal()


@shared_task(name="audit.checkpoint", ignore_result=True)
def audit_checkpoint_task() -> int:
    return audit_checkpoint().seq
