"""E-mail through a real SMTP server on loopback (aiosmtpd): one per event, or a daily digest; names escaped in HTML."""

from __future__ import annotations

import pytest
from django.test import override_settings

from credentials.services import credential_update
from notifications.email import send_digests, send_notice
from notifications.fanout import fan_out
from notifications.models import Channel, Delivery, RaisedEvent
from notifications.services import subscription_set
from tests.factories import make_credential
from tests.notifications.receivers import smtp_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp():
    with smtp_server() as (port, mailbox), override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port,
        SITE_URL="https://latchkey.example",
    ):  # fmt: skip
        yield mailbox


def changed_twice(owner, name: str):
    credential = make_credential(owner, name=name)
    for value in ("second-value-1", "third-value-12"):
        credential_update(actor=owner, credential_id=credential.pk, changes={"fields": {"token": value}})
    for raised_id in RaisedEvent.objects.values_list("pk", flat=True):
        fan_out(raised_id)
    return credential


def test_one_mail_per_event_with_text_and_escaped_html(owner, smtp):
    owner.email = "owner@example.com"
    owner.save(update_fields=["email"])
    subscription_set(actor=owner, event="credential.secret_changed", scope="mine", email="immediate", webhook=False)
    credential = changed_twice(owner, "<script>alert(1)</script>")
    for delivery in Delivery.objects.filter(channel=Channel.EMAIL):
        assert send_notice(delivery.pk) is True and send_notice(delivery.pk) is False  # sent once
    assert len(smtp.messages) == 2
    text, html = smtp.bodies(smtp.messages[0])
    assert "<script>alert(1)</script> has a new secret" in text  # plain text is not HTML
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert f"https://latchkey.example/credentials/{credential.pk}/" in text
    assert smtp.messages[0]["Subject"].startswith("[Latchkey] Secret changed: <script>")
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_the_digest_gathers_a_days_events_in_one_mail(owner, smtp):
    owner.email = "owner@example.com"
    owner.save(update_fields=["email"])
    subscription_set(actor=owner, event="credential.secret_changed", scope="mine", email="digest", webhook=False)
    changed_twice(owner, "nightly-token")
    assert Delivery.objects.filter(channel=Channel.DIGEST, status="pending").count() == 2
    assert send_digests() == 1 and send_digests() == 0
    [message] = smtp.messages
    text, html = smtp.bodies(message)
    assert message["Subject"] == "[Latchkey] Your daily digest: 2 event(s)"
    assert text.count("nightly-token") == 2 and "version 2" in text and "version 3" in text
    assert "<h3>Secret changed</h3>" in html
