"""The notifications admin: every model readable, nothing written but a superuser's audited endpoint deletion."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from credentials.teams import team_set_manager
from notifications.kinds import EventKind
from notifications.models import Channel, Delivery, DeliveryAttempt, RaisedEvent, Subscription, WebhookEndpoint
from notifications.services import subscription_set
from notifications.webhooks.endpoints import endpoint_create
from tests.factories import make_user
from tests.integration.servers import free_port
from tests.pages.conftest import client_for

pytestmark = pytest.mark.django_db

CANARY = f"canary-{uuid.uuid4().hex}"


@pytest.fixture
def world(owner, superuser):
    """One row of each model: a subscription, an endpoint with its secret, a delivery with two attempts, an event."""
    subscription_set(actor=owner, event=EventKind.SHARED, scope="visible", email="digest", webhook=True)
    made = endpoint_create(actor=owner, name="pager", url=f"http://127.0.0.1:{free_port()}/hook")
    delivery = Delivery.objects.create(
        event=EventKind.EXPIRED, channel=Channel.WEBHOOK, endpoint=made.endpoint, occurred_at=timezone.now(),
        payload={"type": EventKind.EXPIRED.value, "data": {"credential": {"name": CANARY}}},
    )  # fmt: skip
    DeliveryAttempt.objects.create(delivery=delivery, number=1, status_code=503, duration_ms=12)
    DeliveryAttempt.objects.create(delivery=delivery, number=2, error="connection refused", duration_ms=3)
    raised = RaisedEvent.objects.create(signal="credentials.events.secret_changed", facts={"credential_id": "x"})
    return {
        "subscription": Subscription.objects.get(),
        "endpoint": made.endpoint,
        "secret": made.secret,
        "delivery": delivery,
        "raised": raised,
    }


def admin_url(obj, view: str = "change") -> str:
    meta = obj._meta
    args = [] if view in ("changelist", "add") else [obj.pk]
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", ["subscription", "endpoint", "delivery", "raised"])
def test_each_model_lists_and_shows_read_only(world, superuser, model):
    client = client_for(superuser)
    obj = world[model]
    for view in ("changelist", "change"):
        response = client.get(admin_url(obj, view))
        assert response.status_code == 200, view
        assert world["secret"] not in response.content.decode()
    assert client.get(admin_url(obj, "add")).status_code == 403
    assert client.post(admin_url(obj, "change"), {}).status_code == 403
    if model != "endpoint":
        assert client.get(admin_url(obj, "delete")).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_the_endpoint_page_never_shows_its_sealed_secret(world, superuser):
    endpoint = WebhookEndpoint.objects.get()
    client = client_for(superuser)
    for url in (admin_url(endpoint, "changelist"), admin_url(endpoint)):
        html = client.get(url).content.decode()
        assert endpoint.ciphertext not in html and endpoint.ciphertext[:40] not in html
        assert "ciphertext" not in html.lower() and "Key id" not in html
        assert world["secret"] not in html and world["secret"].removeprefix("whsec_") not in html
    listed = client.get(admin_url(endpoint, "changelist")).content.decode()
    assert "pager" in listed and endpoint.url in listed and "owner" in listed


def test_the_delivery_page_shows_its_attempts_and_payload_read_only(world, superuser):
    html = client_for(superuser).get(admin_url(world["delivery"])).content.decode()
    assert CANARY in html  # the payload names a credential, never a secret
    assert "connection refused" in html and "503" in html
    assert 'name="attempt_rows-0-error"' not in html  # the inline's rows are text, not inputs


def test_deliveries_filter_by_channel_status_and_event(world, superuser):
    client = client_for(superuser)
    url = admin_url(world["delivery"], "changelist")
    for query, count in (({"channel__exact": "webhook"}, 1), ({"channel__exact": "email"}, 0),
                         ({"status__exact": "pending"}, 1), ({"event__exact": EventKind.SHARED.value}, 0)):  # fmt: skip
        response = client.get(url, query)
        assert response.status_code == 200
        assert response.context["cl"].result_count == count, query


def test_a_superuser_deletes_an_endpoint_through_the_audited_service(world, superuser):
    endpoint = world["endpoint"]
    client = client_for(superuser)
    asked = client.get(admin_url(endpoint, "delete"))
    assert asked.status_code == 200 and "Are you sure" in asked.content.decode()
    assert client.post(admin_url(endpoint, "delete"), {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.exists() and not Delivery.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.WEBHOOK_DELETED)
    assert event.actor == superuser and event.details["name"] == "pager"


def test_staff_see_only_the_endpoints_they_manage_and_delete_none(world, superuser):
    staff = make_user("staff", is_staff=True)
    views = Permission.objects.filter(codename__startswith="view_", content_type__app_label="notifications")
    staff.user_permissions.add(*views)
    team = Group.objects.create(name="platform")
    team_set_manager(actor=superuser, team=team, user=staff, is_manager=True)
    theirs = endpoint_create(actor=staff, name="team hook", url=f"http://127.0.0.1:{free_port()}/h", team=team).endpoint
    client = client_for(staff)
    listed = client.get(admin_url(theirs, "changelist"))
    assert [row.name for row in listed.context["cl"].result_list] == ["team hook"]
    assert 'value="delete_selected"' not in listed.content.decode()
    assert client.get(admin_url(world["endpoint"])).status_code == 302  # Django's answer for a row it cannot find
    assert client.get(admin_url(theirs)).status_code == 200
    assert client.get(admin_url(theirs, "delete")).status_code == 403
    client.post(admin_url(theirs, "changelist"), {"action": "delete_selected", "_selected_action": [theirs.pk]})
    assert WebhookEndpoint.objects.count() == 2
