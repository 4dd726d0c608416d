"""Celery tasks for notifications: each takes ids and calls a service (fan-out, e-mail, a webhook attempt, digests)."""

from __future__ import annotations

from smtplib import SMTPException

from celery import Task, shared_task

from notifications import email, fanout
from notifications.webhooks.delivery import deliver_webhook


@shared_task(name="notifications.fan_out", acks_late=True, ignore_result=True)
def fan_out_task(raised_id: int) -> None:
    fanout.fan_out(raised_id)


@shared_task(name="notifications.fan_out_waiting", ignore_result=True)
def fan_out_waiting_task() -> None:
    fanout.fan_out_waiting()


# An SMTP server that is down or refuses for now: retried with Celery's exponential backoff and jitter.
@shared_task(
    name="notifications.send_email", acks_late=True, ignore_result=True, autoretry_for=(SMTPException, OSError),
    retry_backoff=30, retry_backoff_max=3600, retry_jitter=True, max_retries=6,
)  # fmt: skip
def send_email_task(delivery_id: str) -> None:
    email.send_notice(delivery_id)


@shared_task(bind=True, name="notifications.deliver_webhook", acks_late=True, ignore_result=True)
def deliver_webhook_task(self: Task, delivery_id: str) -> None:
    delay = deliver_webhook(delivery_id, can_retry=not self.request.is_eager)
    if delay is not None:
        # Our own count of attempts (on the delivery's row) decides when to stop, not Celery's.
        raise self.retry(countdown=delay, max_retries=None)


@shared_task(name="notifications.requeue_waiting", ignore_result=True)
def requeue_waiting_task() -> None:
    fanout.requeue_waiting()


@shared_task(name="notifications.send_digests", ignore_result=True)
def send_digests_task() -> None:
    email.send_digests()
