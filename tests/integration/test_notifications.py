"""Notifications end to end: domain events fanned out by a real Celery worker, e-mailed through a real SMTP server
(aiosmtpd) and POSTed to a real webhook receiver that verifies each signature with the standardwebhooks library.

A receiver that fails twice is retried (with backoff) until it takes the event; one that is down is
disabled after WEBHOOK_DISABLE_AFTER attempts and its owner is told by e-mail. A canary secret is
searched for in every e-mail, webhook body and delivery log.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from credentials.expiry import expiry_sweep
from credentials.services import credential_update
from notifications.models import Delivery, DeliveryAttempt, WebhookEndpoint
from notifications.webhooks.endpoints import endpoint_create, endpoint_send_test
from tests.factories import make_credential, make_user
from tests.integration import servers
from tests.notifications.receivers import Mailbox, Receiver, smtp_server, webhook_receiver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180), pytest.mark.django_db(transaction=True)]

CANARY = f"canary-{uuid.uuid4().hex}"
ATTEMPTS = 3


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def notifying_worker(broker, test_database_url, smtp, tmp_path_factory) -> Iterator[servers.Worker]:
    """A worker that mails through the test's SMTP server and retries webhooks within seconds."""
    from config.celery import app

    app.control.purge()
    port, _ = smtp
    env = {
        "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port), "SITE_URL": "https://latchkey.example",
        "WEBHOOK_RETRY_BASE_SECONDS": "1", "WEBHOOK_RETRY_MAX_SECONDS": "2",
        "WEBHOOK_MAX_ATTEMPTS": str(ATTEMPTS), "WEBHOOK_DISABLE_AFTER": str(ATTEMPTS), "WEBHOOK_TIMEOUT_SECONDS": "3",
    }  # fmt: skip
    log = tmp_path_factory.mktemp("notify-worker") / "worker.log"
    worker = servers.start_worker(database_url=test_database_url, broker_url=broker, log=log, extra_env=env)
    yield worker
    servers.stop(worker.process, group=True)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout:g} s")


def no_canary(*texts: Any) -> None:
    for text in texts:
        assert CANARY not in (text if isinstance(text, str) else json.dumps(text, default=str))


def test_a_secret_change_is_mailed_and_posted_signed_and_no_secret_leaves(notifying_worker, smtp):
    _, mailbox = smtp
    owner = make_user("notified-owner", email="owner@example.com")
    client = APIClient()
    client.force_authenticate(owner)
    credential = make_credential(owner, secret=CANARY + "-1")
    assert client.put(
        "/api/notifications/subscriptions/credential.secret_changed/",
        {"scope": "mine", "email": "immediate", "webhook": True}, format="json",
    ).status_code == 200  # fmt: skip
    receiver = Receiver()
    with webhook_receiver(receiver) as url:
        made = client.post("/api/webhooks/", {"name": "ops", "url": url}, format="json")
        assert made.status_code == 201 and made["Cache-Control"] == "no-store"
        receiver.secret = made.json()["secret"]
        credential_update(actor=owner, credential_id=credential.pk, changes={"fields": {"token": CANARY + "-2"}})
        wait_for(receiver.verified, "a verified webhook")
        mail = wait_for(lambda: [m for m in mailbox.messages if m["To"] == "owner@example.com"], "an e-mail")[0]
    [delivered] = receiver.verified()
    payload = delivered["payload"]
    assert payload["type"] == "credential.secret_changed"
    assert payload["data"]["credential"]["id"] == str(credential.pk) and payload["data"]["credential"]["owner"] == (
        "notified-owner"
    )
    assert delivered["headers"]["webhook-id"].startswith("msg_")
    text, html = mailbox.bodies(mail)
    assert credential.name in mail["Subject"] and "version 2" in text and credential.name in html
    assert f"https://latchkey.example/credentials/{credential.pk}/" in text
    log = client.get(f"/api/webhooks/{made.json()['id']}/deliveries/").json()
    assert log["results"][0]["status_code"] == 200 and log["results"][0]["attempt"] == 1
    no_canary(text, html, *mailbox.raw, delivered["body"].decode(), log,
              list(Delivery.objects.values()), list(DeliveryAttempt.objects.values()))  # fmt: skip


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(notifying_worker):
    owner = make_user("retried-owner")
    receiver = Receiver(fail_first=2)
    with webhook_receiver(receiver) as url:
        made = endpoint_create(actor=owner, name="flaky", url=url)
        receiver.secret = made.secret
        delivery = endpoint_send_test(actor=owner, endpoint_id=made.endpoint.pk)
        done = wait_for(
            lambda: Delivery.objects.filter(pk=delivery.pk, status="delivered").first(), "the third attempt"
        )
    assert done.attempts == 3 and len(receiver.requests) == 3
    # The same message id each time, so that a receiver can drop a repeat; each one signed.
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    codes = list(DeliveryAttempt.objects.filter(delivery=done).order_by("number").values_list("status_code", flat=True))
    assert codes == [500, 500, 200]
    assert WebhookEndpoint.objects.get(pk=made.endpoint.pk).failures == 0


def test_an_endpoint_that_is_down_is_disabled_and_its_owner_told(notifying_worker, smtp):
    _, mailbox = smtp
    owner = make_user("down-owner", email="down@example.com")
    closed = f"http://127.0.0.1:{servers.free_port()}/hook"
    made = endpoint_create(actor=owner, name="gone", url=closed)
    endpoint_send_test(actor=owner, endpoint_id=made.endpoint.pk)
    disabled = wait_for(
        lambda: WebhookEndpoint.objects.filter(pk=made.endpoint.pk, is_active=False).first(), "the disabling"
    )
    assert "3 failed attempts in a row" in disabled.disabled_reason and "refused" in disabled.disabled_reason
    mail = wait_for(lambda: [m for m in mailbox.messages if m["To"] == "down@example.com"], "the owner's notice")[0]
    assert "Webhook endpoint disabled" in mail["Subject"] and "gone" in mailbox.bodies(mail)[0]
    assert DeliveryAttempt.objects.filter(delivery__endpoint=made.endpoint).count() == ATTEMPTS


def test_expiry_reaches_the_owner_by_default_and_nobody_who_may_not_see_it(notifying_worker, smtp):
    _, mailbox = smtp
    owner = make_user("expiring-owner", email="expiring@example.com")
    outsider = make_user("outsider", email="outsider@example.com")
    client = APIClient()
    client.force_authenticate(outsider)
    # The outsider asks for every credential they may see: this one is not among them.
    client.put("/api/notifications/subscriptions/credential.expiring/", {"scope": "visible", "email": "immediate",
               "webhook": False}, format="json")  # fmt: skip
    credential = make_credential(owner, secret=CANARY + "-3", expires_at=timezone.now() + timedelta(days=5))
    assert expiry_sweep() == 1
    mail = wait_for(lambda: [m for m in mailbox.messages if m["To"] == "expiring@example.com"], "the expiry mail")[0]
    assert "Credential expiring" in mail["Subject"] and credential.name in mail["Subject"]
    time.sleep(1)  # the fan-out made every delivery at once: give a wrong one time to arrive too
    assert not [m for m in mailbox.messages if m["To"] == "outsider@example.com"]
    assert not Delivery.objects.filter(user=outsider).exists()
    no_canary(*mailbox.raw)
