"""The notification pages: subscriptions saved or refused whole, endpoints made with their secret shown once, 404s."""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from audit.models import AuditAction, AuditEvent
from credentials.teams import team_set_manager
from notifications.kinds import DEFAULTS, SUBSCRIBABLE, EventKind
from notifications.models import Channel, Delivery, DeliveryAttempt, Subscription, WebhookEndpoint
from notifications.webhooks.endpoints import endpoint_create, endpoint_update
from notifications.webhooks.secrets import open_secret
from tests.factories import make_user
from tests.integration.servers import free_port
from tests.pages.conftest import client_for

pytestmark = pytest.mark.django_db

SETTINGS = reverse("notifications:settings")
RESET = reverse("notifications:reset")
WEBHOOKS = reverse("notifications:webhooks")
SECRET = re.compile(r'id="signing-secret"[^>]*value="(whsec_[A-Za-z0-9+/=]+)"')


@pytest.fixture
def owner_client(owner) -> Client:
    return client_for(owner)


def hook_url() -> str:
    """A loopback port nobody listens on: a delivery there fails at once, and nothing leaves the machine."""
    return f"http://127.0.0.1:{free_port()}/hook"


def make_endpoint(user, name: str = "ops hook", **extra) -> WebhookEndpoint:
    return endpoint_create(actor=user, name=name, url=hook_url(), **extra).endpoint


def pages(endpoint: WebhookEndpoint) -> dict[str, str]:
    return {
        name: reverse(f"notifications:{name}", kwargs={"pk": endpoint.pk})
        for name in ("webhook", "webhook-test", "webhook-rotate", "webhook-delete")
    }


def rows_posted(**changed: dict[str, object]) -> dict[str, object]:
    """Every row of the subscriptions form at its default, with ``changed`` (by event) on top."""
    data: dict[str, object] = {}
    for event in SUBSCRIBABLE:
        preference = DEFAULTS[event]
        row = {"scope": preference.scope, "email": preference.email, "webhook": preference.webhook}
        row.update(changed.get(event, {}))
        data[f"{event}-scope"], data[f"{event}-email"] = row["scope"], row["email"]
        if row["webhook"]:
            data[f"{event}-webhook"] = "on"
    return data


def secret_in(response) -> str:
    match = SECRET.search(response.content.decode())
    assert match, "the page shows the signing secret"
    return match.group(1)


# --- Logging in, the pages there are -----------------------------------------------------------


def test_every_page_asks_for_a_login_and_writes_nothing(client, owner):
    endpoint = make_endpoint(owner)
    for url in [SETTINGS, RESET, WEBHOOKS, *pages(endpoint).values()]:
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in (302, 405), url
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("login")), url
    assert client.post(WEBHOOKS, {"name": "x", "url": hook_url(), "owner": "me"}).status_code == 302
    assert WebhookEndpoint.objects.count() == 1 and not Delivery.objects.exists()


def test_the_pages_render_and_the_menu_leads_to_them(owner, owner_client):
    endpoint = make_endpoint(owner)
    home = owner_client.get(reverse("credentials:list")).content.decode()
    assert f'<a href="{SETTINGS}">Notifications</a>' in home
    shown = [SETTINGS, WEBHOOKS, *(pages(endpoint)[name] for name in ("webhook", "webhook-rotate", "webhook-delete"))]
    for url in shown:
        assert owner_client.get(url).status_code == 200, url
    assert owner_client.get(pages(endpoint)["webhook-test"]).status_code == 405  # a test event is a POST


def test_no_page_carries_inline_script_or_style(owner, owner_client):
    """The CSP allows scripts and styles from the site's files only; an inline one would be refused in a browser."""
    endpoint = make_endpoint(owner)
    created = owner_client.post(WEBHOOKS, {"name": "made", "url": hook_url(), "owner": "me"})
    refused = owner_client.post(SETTINGS, rows_posted(**{EventKind.EXPIRED: {"scope": "x"}}))
    responses = [owner_client.get(url) for url in (SETTINGS, WEBHOOKS, *pages(endpoint).values()) if "test" not in url]
    for response in [*responses, created, refused]:
        html = response.content.decode()
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html, re.IGNORECASE), "an inline style or handler"


# --- Subscriptions -----------------------------------------------------------------------------------


def test_the_table_shows_every_event_at_its_default(owner_client):
    response = owner_client.get(SETTINGS)
    rows = response.context["rows"]
    assert [choice.event for choice, _ in rows] == list(SUBSCRIBABLE)
    assert all(choice.is_default for choice, _ in rows)
    html = response.content.decode()
    for event in SUBSCRIBABLE:
        assert escape(EventKind(event).label) in html
    expiring_by_email = r'[^>]*>\s*<option value="off">Off</option>\s*<option value="immediate" selected>'
    assert re.search(f'name="{EventKind.EXPIRING}-email"' + expiring_by_email, html)


def test_saving_writes_only_the_rows_that_changed(owner, owner_client):
    unchanged = owner_client.post(SETTINGS, rows_posted())
    assert unchanged.status_code == 302 and not Subscription.objects.exists()

    changed = {
        EventKind.SECRET_CHANGED: {"scope": "visible", "email": "digest", "webhook": True},
        EventKind.EXPIRING: {"email": "off"},
    }
    saved = owner_client.post(SETTINGS, rows_posted(**changed), follow=True)
    assert saved.status_code == 200
    assert "Saved your choices for 2 event(s)." in saved.content.decode()
    rows = {row.event: (row.scope, row.email, row.webhook) for row in Subscription.objects.filter(user=owner)}
    assert rows == {EventKind.SECRET_CHANGED: ("visible", "digest", True), EventKind.EXPIRING: ("mine", "off", False)}

    shown = {choice.event: (choice, form) for choice, form in owner_client.get(SETTINGS).context["rows"]}
    choice, form = shown[EventKind.SECRET_CHANGED]
    assert not choice.is_default and form.initial == {"scope": "visible", "email": "digest", "webhook": True}
    assert shown[EventKind.EXPIRED][0].is_default


def test_bad_values_are_named_on_their_fields_and_nothing_is_written(owner_client):
    posted = rows_posted(
        **{
            EventKind.SECRET_CHANGED: {"email": "digest"},  # valid, and not saved since another row is refused
            EventKind.EXPIRED: {"scope": "everyone"},
            EventKind.SHARED: {"email": "carrier pigeon"},
        }
    )
    del posted[f"{EventKind.UNSHARED}-scope"]
    response = owner_client.post(SETTINGS, posted)
    assert response.status_code == 400
    forms = {choice.event: form for choice, form in response.context["rows"]}
    assert list(forms[EventKind.EXPIRED].errors) == ["scope"]
    assert list(forms[EventKind.SHARED].errors) == ["email"]
    assert forms[EventKind.UNSHARED].errors == {"scope": ["This field is required."]}
    assert not forms[EventKind.SECRET_CHANGED].errors
    html = response.content.decode()
    assert "Nothing was saved" in html
    assert "Select a valid choice. everyone is not one of the available choices." in html
    assert not Subscription.objects.exists()


def test_resetting_forgets_every_choice(owner, stranger, owner_client):
    owner_client.post(SETTINGS, rows_posted(**{EventKind.SHARED: {"email": "immediate"}}))
    client_for(stranger).post(SETTINGS, rows_posted(**{EventKind.SHARED: {"email": "digest"}}))
    assert owner_client.get(RESET).status_code == 405
    assert owner_client.post(RESET).status_code == 302
    assert list(Subscription.objects.values_list("user__username", flat=True)) == ["stranger"]


# --- Endpoints: made, their secret shown once ---------------------------------------------------------


def test_creating_an_endpoint_shows_its_secret_once(owner, owner_client):
    url = hook_url()
    created = owner_client.post(
        WEBHOOKS, {"name": "pager", "url": url, "events": [EventKind.EXPIRED, EventKind.TEST_FAILING], "owner": "me"}
    )
    assert created.status_code == 200  # shown in this response: no redirect through the session
    assert "no-store" in created["Cache-Control"]
    secret = secret_in(created)
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.name, endpoint.url, endpoint.user, endpoint.team, endpoint.is_global) == (
        "pager", url, owner, None, False
    )  # fmt: skip
    assert endpoint.events == sorted([EventKind.EXPIRED, EventKind.TEST_FAILING])
    assert open_secret(endpoint) == secret
    html = created.content.decode()
    assert "webhook-signature" in html and "webhook-timestamp" in html and "webhook-id" in html

    for page in (owner_client.get(pages(endpoint)["webhook"]), owner_client.get(WEBHOOKS)):
        assert page.status_code == 200
        assert secret not in page.content.decode()
    assert secret not in str(dict(owner_client.session))
    assert secret not in endpoint.ciphertext
    assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_CREATED).count() == 1
    assert not AuditEvent.objects.filter(details__icontains=secret.removeprefix("whsec_")).exists()


def test_the_list_shows_what_i_manage_and_nothing_else(owner, stranger, owner_client):
    mine = make_endpoint(owner, name="mine")
    make_endpoint(stranger, name="theirs")
    endpoint_update(actor=owner, endpoint_id=mine.pk, changes={"is_active": False})
    WebhookEndpoint.objects.filter(pk=mine.pk).update(disabled_reason="24 failed attempts in a row", failures=24)
    html = owner_client.get(WEBHOOKS).content.decode()
    assert "mine" in html and "theirs" not in html
    assert mine.url in html and "Turned off" in html and ">24<" in html


@pytest.mark.parametrize(
    ("posted", "field", "message"),
    [
        ({"name": "", "url": "http://127.0.0.1:1/hook"}, "name", "This field is required."),
        ({"name": "x", "url": "ftp://hooks.example.com/"}, "url", "Enter an http:// or https:// URL."),
        ({"name": "x", "url": "http://169.254.169.254/latest"}, "url", "link-local"),
        ({"name": "x", "url": "http://user:pw@hooks.example.com/"}, "url", "no user name or password"),
        ({"name": "x", "url": "https://hooks.example.com/", "events": ["no.such"]}, "events", "Select a valid choice"),
        ({"name": "x", "url": "https://hooks.example.com/", "owner": "team:99999"}, "owner", "a team you manage"),
        ({"name": "x", "url": "https://hooks.example.com/", "owner": "team:" + "9" * 500}, "owner", "a team you"),
        ({"name": "x", "url": "https://hooks.example.com/", "owner": "global"}, "owner", "Only administrators"),
    ],
)
def test_bad_endpoint_input_is_named_on_its_field(owner_client, posted, field, message):
    response = owner_client.post(WEBHOOKS, {"owner": "me", **posted})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not WebhookEndpoint.objects.exists()
    assert not SECRET.search(response.content.decode())


def test_a_team_endpoint_is_for_its_managers_only(owner, superuser, owner_client):
    team = Group.objects.create(name="platform")
    owner.groups.add(team)  # a member, not a manager
    refused = owner_client.post(WEBHOOKS, {"name": "team hook", "url": hook_url(), "owner": f"team:{team.pk}"})
    assert refused.status_code == 400
    assert refused.context["form"].errors["owner"] == ["Only the team's managers may add an endpoint for it."]
    assert not WebhookEndpoint.objects.exists()
    assert f'value="team:{team.pk}"' not in owner_client.get(WEBHOOKS).content.decode()  # not offered either

    team_set_manager(actor=superuser, team=team, user=owner, is_manager=True)
    assert f'value="team:{team.pk}"' in owner_client.get(WEBHOOKS).content.decode()
    made = owner_client.post(WEBHOOKS, {"name": "team hook", "url": hook_url(), "owner": f"team:{team.pk}"})
    assert made.status_code == 200 and secret_in(made)
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.team, endpoint.user) == (team, None)
    assert owner_client.get(pages(endpoint)["webhook"]).status_code == 200


def test_an_administrator_makes_a_global_endpoint(superuser):
    client = client_for(superuser)
    assert 'value="global"' in client.get(WEBHOOKS).content.decode()
    made = client.post(WEBHOOKS, {"name": "siem", "url": hook_url(), "owner": "global"})
    assert made.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.is_global and endpoint.user is None and open_secret(endpoint) == secret_in(made)


def test_creating_needs_a_csrf_token(owner):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post(WEBHOOKS, {"name": "x", "url": hook_url(), "owner": "me"}).status_code == 403
    assert strict.post(SETTINGS, rows_posted(**{EventKind.SHARED: {"email": "digest"}})).status_code == 403
    assert not WebhookEndpoint.objects.exists() and not Subscription.objects.exists()


# --- Another's endpoint ------------------------------------------------------------------------------


def test_another_users_endpoint_is_404_on_every_page_and_post(owner_client, stranger):
    theirs = make_endpoint(stranger, name="theirs")
    before = WebhookEndpoint.objects.values().get()
    for url in pages(theirs).values():
        assert owner_client.get(url).status_code in (404, 405), url
        assert owner_client.post(url, {"name": "mine now", "url": hook_url(), "is_active": "on"}).status_code == 404
    for bad in ("not-a-uuid", str(uuid.uuid4()), "0" * 5000):
        assert owner_client.get(f"{WEBHOOKS}{bad}/").status_code == 404
        assert owner_client.post(f"{WEBHOOKS}{bad}/delete/").status_code == 404
    assert WebhookEndpoint.objects.values().get() == before
    assert not Delivery.objects.exists()


# --- An endpoint's page -------------------------------------------------------------------------------


def test_changing_the_settings(owner, owner_client):
    endpoint = make_endpoint(owner)
    url = pages(endpoint)["webhook"]
    new_url = hook_url()
    saved = owner_client.post(url, {"name": "renamed", "url": new_url, "events": [EventKind.EXPIRED]}, follow=True)
    assert saved.status_code == 200 and "Saved “renamed”." in saved.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.url, endpoint.events, endpoint.is_active) == (
        "renamed", new_url, [EventKind.EXPIRED], False
    )  # fmt: skip

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failures=24, disabled_reason="24 failed")
    turned_on = {"name": "renamed", "url": new_url, "events": [EventKind.EXPIRED], "is_active": "on"}
    again = owner_client.post(url, turned_on)
    assert again.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failures == 0 and endpoint.disabled_reason == ""

    for posted, field in (({"name": "", "url": new_url}, "name"), ({"name": "other", "url": "gopher://x"}, "url")):
        refused = owner_client.post(url, {**posted, "is_active": "on"})
        assert refused.status_code == 400
        assert set(refused.context["form"].errors) == {field}
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.url) == ("renamed", new_url)


def test_send_test_event_queues_a_delivery(owner, owner_client):
    endpoint = make_endpoint(owner)
    # The page's transaction is the test's: its on-commit queueing never runs, so nothing is sent.
    sent = owner_client.post(pages(endpoint)["webhook-test"], follow=True)
    assert sent.status_code == 200 and "Test event queued" in sent.content.decode()
    delivery = Delivery.objects.get()
    assert (delivery.event, delivery.channel, delivery.endpoint) == (EventKind.WEBHOOK_TEST, Channel.WEBHOOK, endpoint)

    endpoint_update(actor=owner, endpoint_id=endpoint.pk, changes={"is_active": False})
    refused = owner_client.post(pages(endpoint)["webhook-test"], follow=True)
    assert "Turn the endpoint on" in refused.content.decode()
    assert Delivery.objects.count() == 1


def test_a_test_event_to_a_closed_port_shows_its_failed_attempt_in_the_log(
    owner, owner_client, eager_tasks, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(pages(endpoint)["webhook-test"]).status_code == 302
    attempts = list(DeliveryAttempt.objects.filter(delivery__endpoint=endpoint))
    assert attempts and all(attempt.status_code is None and attempt.error for attempt in attempts)
    page = owner_client.get(pages(endpoint)["webhook"])
    assert list(page.context["log"]) == sorted(attempts, key=lambda a: (a.at, a.pk), reverse=True)
    html = page.content.decode()
    assert EventKind.WEBHOOK_TEST.value in html and attempts[0].error in html
    assert "requested_by" not in html  # the payload's keys: never on the page


def test_the_log_shows_the_last_hundred_attempts_and_never_a_payload(owner, owner_client):
    endpoint = make_endpoint(owner)
    canary = f"canary-{uuid.uuid4().hex}"
    delivery = Delivery.objects.create(
        event=EventKind.EXPIRED, channel=Channel.WEBHOOK, endpoint=endpoint, occurred_at=endpoint.created_at,
        payload={"type": EventKind.EXPIRED.value, "data": {"credential": {"name": canary}}},
    )  # fmt: skip
    url = pages(endpoint)["webhook"]

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(url).status_code == 200
        return len(captured)

    DeliveryAttempt.objects.create(delivery=delivery, number=1, status_code=503, duration_ms=7)
    queries()  # the first request reads what the process keeps (config/caches.py)
    one = queries()
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery=delivery, number=n, status_code=503 if n < 105 else 204, duration_ms=7 * n)
        for n in range(2, 106)
    )
    assert queries() == one  # one query for the log, whatever its length
    page = owner_client.get(url)
    log = list(page.context["log"])
    assert len(log) == 100
    html = page.content.decode()
    assert html.count(f"<code>{EventKind.EXPIRED.value}</code>") == 100
    assert ">204<" in html and ">503<" in html and "735 ms" in html
    assert canary not in html


# --- Rotate and delete ---------------------------------------------------------------------------------


def test_rotating_shows_the_new_secret_once(owner, owner_client):
    made = endpoint_create(actor=owner, name="hook", url=hook_url())
    url = pages(made.endpoint)["webhook-rotate"]
    asked = owner_client.get(url)
    assert asked.status_code == 200 and "stops signing at once" in asked.content.decode()
    assert WebhookEndpoint.objects.get().secret_number == 1

    rotated = owner_client.post(url)
    assert rotated.status_code == 200 and "no-store" in rotated["Cache-Control"]
    secret = secret_in(rotated)
    endpoint = WebhookEndpoint.objects.get()
    assert secret != made.secret and endpoint.secret_number == 2 and open_secret(endpoint) == secret
    detail = owner_client.get(pages(endpoint)["webhook"]).content.decode()
    assert secret not in detail and made.secret not in detail


def test_deleting_asks_first(owner, owner_client):
    endpoint = make_endpoint(owner, name="old hook")
    url = pages(endpoint)["webhook-delete"]
    assert "Delete “old hook”?" in owner_client.get(url).content.decode()
    assert WebhookEndpoint.objects.exists()
    deleted = owner_client.post(url, follow=True)
    assert deleted.redirect_chain == [(WEBHOOKS, 302)]
    assert "Webhook endpoint “old hook” deleted" in deleted.content.decode()
    assert not WebhookEndpoint.objects.exists()
    assert owner_client.get(pages(endpoint)["webhook"]).status_code == 404


def test_a_teams_other_member_does_not_manage_its_endpoint(owner, superuser):
    team = Group.objects.create(name="platform")
    team_set_manager(actor=superuser, team=team, user=owner, is_manager=True)
    member = make_user("member-only")
    member.groups.add(team)
    endpoint = make_endpoint(owner, team=team)
    client = client_for(member)
    assert client.get(pages(endpoint)["webhook"]).status_code == 404
    assert "ops hook" not in client.get(WEBHOOKS).content.decode()
    assert client_for(superuser).get(pages(endpoint)["webhook"]).status_code == 200
