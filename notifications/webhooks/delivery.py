"""One attempt of a webhook delivery (in a worker): signed, sent and recorded; retried with backoff; endpoints disabled.

The delivery's row is locked for the attempt, so a message delivered twice sends once. Each attempt
is a DeliveryAttempt (time, status code or the failure in words, duration), never a body. After
WEBHOOK_MAX_ATTEMPTS a delivery has failed; after WEBHOOK_DISABLE_AFTER failed attempts in a row
(across deliveries) its endpoint is disabled, its pending deliveries cancelled, and its owners told.
"""

from __future__ import annotations

from typing import Any

from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from credentials.keys.ring import DecryptionError
from notifications.models import Channel, Delivery, DeliveryAttempt, DeliveryStatus, WebhookEndpoint
from notifications.receivers import record_raised
from notifications.webhooks.secrets import open_secret
from notifications.webhooks.sending import Answer, body_of, post


def deliver_webhook(delivery_id: Any, *, can_retry: bool = True) -> int | None:
    """Attempt the delivery once; return the seconds to wait before the next attempt, or None when it is over.

    ``can_retry`` is False where nothing could wait to retry (a task run in-process): one attempt only.
    """
    with transaction.atomic():
        delivery = Delivery.locked_pending(delivery_id, Channel.WEBHOOK, "endpoint")
        if delivery is None:
            return None
        endpoint = delivery.endpoint
        if endpoint is None or not endpoint.is_active:
            _close(delivery, DeliveryStatus.CANCELLED, "The endpoint was disabled or removed.")
            return None
        answer = _attempt(delivery, endpoint)
        delivery.attempts += 1
        DeliveryAttempt.objects.create(
            delivery=delivery, number=delivery.attempts, status_code=answer.status_code, error=answer.error,
            duration_ms=answer.duration_ms,
        )  # fmt: skip
        delivery.last_status_code = answer.status_code
        delivery.last_error = answer.error
        if answer.ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.save()
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failures__gt=0).update(failures=0)
            return None
        if _count_failure(endpoint, answer):
            delivery.status = DeliveryStatus.CANCELLED
        elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS or not can_retry:
            delivery.status = DeliveryStatus.FAILED
        delivery.save()
        if delivery.status != DeliveryStatus.PENDING:
            return None
        return retry_delay(delivery.attempts)


def retry_delay(attempts: int) -> int:
    """Exponential backoff with full jitter (Celery's own): up to BASE x 2^(attempts-1) seconds, at most MAX."""
    return int(
        get_exponential_backoff_interval(
            factor=settings.WEBHOOK_RETRY_BASE_SECONDS,
            retries=attempts - 1,
            maximum=settings.WEBHOOK_RETRY_MAX_SECONDS,
            full_jitter=True,
        )
    )


def _attempt(delivery: Delivery, endpoint: WebhookEndpoint) -> Answer:
    try:
        secret = open_secret(endpoint)
    except DecryptionError:
        return Answer(None, "The endpoint's secret cannot be opened with the configured keys.", 0)
    # The id stays the same across attempts, so that a receiver can drop a repeat.
    return post(endpoint.url, secret, f"msg_{delivery.pk.hex}", body_of(delivery.payload))


def _count_failure(endpoint: WebhookEndpoint, answer: Answer) -> bool:
    """Count a failed attempt against the endpoint; disable it at the limit. True if this attempt disabled it."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failures=F("failures") + 1)
    failures = WebhookEndpoint.objects.filter(pk=endpoint.pk).values_list("failures", flat=True).first() or 0
    if failures < settings.WEBHOOK_DISABLE_AFTER:
        return False
    reason = f"{failures} failed attempts in a row; the last: {answer.error or answer.status_code}"[:300]
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=reason, updated_at=timezone.now()
    )
    if not disabled:
        return False
    Delivery.objects.filter(endpoint_id=endpoint.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, last_error="The endpoint was disabled."
    )
    record_raised("webhook_disabled", {"endpoint_id": str(endpoint.pk), "reason": reason})
    return True


def _close(delivery: Delivery, status: str, error: str) -> None:
    delivery.status = status
    delivery.last_error = error
    delivery.save(update_fields=["status", "last_error"])
