"""Webhook endpoints and subscriptions over the API: bad input is a 400 by field, writing nothing; what a URL may be."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from audit.models import AuditEvent
from credentials.teams import team_set_manager
from notifications.models import Delivery, DeliveryAttempt, Subscription, WebhookEndpoint
from notifications.webhooks.delivery import deliver_webhook
from notifications.webhooks.endpoints import endpoint_create, endpoint_send_test
from tests.factories import make_user

pytestmark = pytest.mark.django_db
URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def api(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


def written() -> tuple[int, int, int]:
    return WebhookEndpoint.objects.count(), Subscription.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": "", "url": URL}, "name", "blank"),
        ({"name": "x", "url": "ftp://example.com/hook"}, "url", "http://"),
        ({"name": "x", "url": "http://user:pw@example.com/hook"}, "url", "no user name or password"),
        ({"name": "x", "url": "http://169.254.169.254/latest"}, "url", "link-local"),
        ({"name": "x", "url": "http://[fe80::1]/hook"}, "url", "link-local"),
        ({"name": "x", "url": "http://example.com:0/hook"}, "url", "port"),
        ({"name": "x", "url": URL, "events": ["credential.nope"]}, "events", "not a valid choice"),
        ({"name": "x", "url": URL, "is_global": True}, "is_global", "administrators"),
        ({"name": "x", "url": URL, "team": "nobody-manages"}, "team", "managers"),
        ({"name": "x", "url": URL, "unexpected": 1}, "unexpected", ""),
    ],
)
def test_bad_endpoints_are_refused_by_field_and_write_nothing(api, body, field, words):
    Group.objects.get_or_create(name="nobody-manages")
    before = written()
    response = api.post("/api/webhooks/", body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors and words.lower() in str(errors[field]).lower()
    assert written() == before


def test_production_refuses_loopback_and_plain_http(api, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.WEBHOOK_REQUIRE_HTTPS = True
    response = api.post("/api/webhooks/", {"name": "x", "url": "https://127.0.0.1/hook"}, format="json")
    assert response.status_code == 400 and "loopback" in response.json()["errors"]["url"][0]
    response = api.post("/api/webhooks/", {"name": "x", "url": "http://hooks.example.com/"}, format="json")
    assert response.status_code == 400 and "https://" in response.json()["errors"]["url"][0]
    assert WebhookEndpoint.objects.count() == 0


def test_a_name_that_resolves_to_loopback_is_refused_when_sent(owner, settings, monkeypatch):
    from credentials import outbound

    made = endpoint_create(actor=owner, name="rebinding", url="http://hooks.example.com/latchkey")
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    monkeypatch.setattr(outbound, "lookup_addresses", lambda host, port: ["127.0.0.1"])
    delivery = endpoint_send_test(actor=owner, endpoint_id=made.endpoint.pk)
    deliver_webhook(delivery.pk, can_retry=False)
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and "loopback" in attempt.error


def test_a_redirect_is_a_failed_attempt_not_followed(owner):
    hits: list[str] = []

    class Redirecting(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            hits.append(self.path)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = HTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        made = endpoint_create(actor=owner, name="moved", url=f"http://127.0.0.1:{server.server_address[1]}/old")
        delivery = endpoint_send_test(actor=owner, endpoint_id=made.endpoint.pk)
        assert deliver_webhook(delivery.pk, can_retry=False) is None
    finally:
        server.shutdown()
        server.server_close()
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert hits == ["/old"] and attempt.status_code == 307 and "not followed" in attempt.error
    assert Delivery.objects.get(pk=delivery.pk).status == "failed"


def test_the_secret_is_in_the_creating_answer_only(api, owner):
    made = api.post("/api/webhooks/", {"name": "ops", "url": URL}, format="json")
    secret = made.json()["secret"]
    assert made["Cache-Control"] == "no-store"
    for url in ("/api/webhooks/", f"/api/webhooks/{made.json()['id']}/"):
        assert secret not in api.get(url).content.decode()
    event = AuditEvent.objects.get(action="webhook_created")
    assert secret not in str(event.details) and event.details["url"] == URL


def test_a_team_endpoint_is_its_managers(owner, superuser):
    team = Group.objects.create(name="platform")
    lead = make_user("lead")
    team_set_manager(actor=superuser, team=team, user=lead, is_manager=True)
    team.user_set.add(owner)  # a member, not a manager
    client = APIClient()
    client.force_authenticate(lead)
    made = client.post("/api/webhooks/", {"name": "team", "url": URL, "team": "platform"}, format="json")
    assert made.status_code == 201 and made.json()["scope"] == "team" and made.json()["owner"] is None
    member = APIClient()
    member.force_authenticate(owner)
    assert member.get(f"/api/webhooks/{made.json()['id']}/").status_code == 404
    assert (
        member.post("/api/webhooks/", {"name": "t", "url": URL, "team": "platform"}, format="json").status_code == 400
    )


def test_each_owner_has_a_ceiling(api, settings):
    settings.WEBHOOK_ENDPOINTS_PER_OWNER = 2
    for n in range(2):
        assert api.post("/api/webhooks/", {"name": f"n{n}", "url": URL}, format="json").status_code == 201
    response = api.post("/api/webhooks/", {"name": "third", "url": URL}, format="json")
    assert response.status_code == 400 and "remove one first" in response.json()["errors"]["name"][0]


def test_turning_an_endpoint_on_again_forgives_its_failures(api, owner):
    made = endpoint_create(actor=owner, name="ops", url=URL)
    WebhookEndpoint.objects.filter(pk=made.endpoint.pk).update(is_active=False, failures=24, disabled_reason="down")
    assert api.post(f"/api/webhooks/{made.endpoint.pk}/test/").status_code == 400
    body = api.patch(f"/api/webhooks/{made.endpoint.pk}/", {"is_active": True}, format="json").json()
    assert body["is_active"] is True and body["failures"] == 0 and body["disabled_reason"] == ""
    assert api.post(f"/api/webhooks/{made.endpoint.pk}/test/").status_code == 202


def test_test_events_have_a_ceiling(api, owner, settings):
    settings.WEBHOOK_TESTS_PER_MINUTE = 2
    made = endpoint_create(actor=owner, name="ops", url=URL)
    assert [api.post(f"/api/webhooks/{made.endpoint.pk}/test/").status_code for _ in range(3)] == [202, 202, 429]
    assert Delivery.objects.filter(endpoint=made.endpoint).count() == 2


def test_subscriptions_list_every_event_and_refuse_bad_choices(api, owner):
    listed = api.get("/api/notifications/subscriptions/").json()
    assert {row["event"] for row in listed} >= {"credential.expiring", "access.requested"}
    assert next(r for r in listed if r["event"] == "credential.expiring") == {
        "event": "credential.expiring", "title": "Credential expiring", "scope": "mine", "email": "immediate",
        "webhook": False, "is_default": True,
    }  # fmt: skip
    bad = api.put("/api/notifications/subscriptions/credential.expiring/", {"scope": "all", "email": "hourly",
                  "webhook": "yes"}, format="json")  # fmt: skip
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"scope", "email", "webhook"}
    assert not Subscription.objects.exists()
    assert api.delete("/api/notifications/subscriptions/credential.expiring/").json()["is_default"] is True
