"""Time-bound access on the site's pages: shares with an end, who may request, requesting, reviewing, the nav count."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from credentials.access.selectors import pending_review_count
from credentials.access.services import access_request_create, credential_set_requestable
from credentials.models import AccessRequest
from credentials.sharing import credential_share, share_list
from tests.factories import CLOCK_START as START
from tests.factories import make_credential, make_user, reveal
from tests.pages.conftest import client_for


@pytest.fixture
def requestable(owner, contractors, clock):
    credential = make_credential(owner, "github_pat", name="deploy-token", description="Deploys the shop")
    credential_set_requestable(actor=owner, credential_id=credential.pk, group=contractors, max_access_hours=24)
    return credential


@pytest.fixture
def asked(member, requestable):
    return access_request_create(actor=member, credential_id=requestable.pk, permission="use", hours=8, reason="Oncall")


def text(response) -> str:
    """The page as a reader sees its words: entities such as &#x27; turned back into characters."""
    return html.unescape(response.content.decode())


def review_link(client) -> str | None:
    """The navigation's "Review requests (N)" text, if the home page shows it."""
    page = client.get(reverse("credentials:list")).content.decode()
    href = f'href="{reverse("credentials:review-requests")}">'
    return page.split(href, 1)[1].split("</a>", 1)[0] if href in page else None


# Shares with an end.


def test_a_share_with_an_end_is_listed_with_it_and_ends(owner_client, credential, clock):
    make_user("friend")
    url = reverse("credentials:shares", kwargs={"pk": credential.pk})
    page = owner_client.get(url).content.decode()
    assert 'type="datetime-local"' in page and 'for="id_expires_at"' in page and "share again" in page
    response = owner_client.post(url, {"user": "friend", "permissions": ["use"], "expires_at": "2026-12-01T11:30"})
    assert response.status_code == 302
    assert share_list(credential)[0].expires_at == {"use": START + timedelta(hours=2, minutes=30)}
    listed = owner_client.get(url).content.decode()
    assert 'class="message success">Shared with friend: use until 2026-12-01 11:30 UTC.' in listed
    assert 'use until <time datetime="2026-12-01T11:30:00+00:00">2026-12-01 11:30 UTC</time>' in listed
    # Extended by sharing again with a later end.
    owner_client.post(url, {"user": "friend", "permissions": ["use"], "expires_at": "2026-12-02T09:00"}, follow=True)
    assert share_list(credential)[0].expires_at == {"use": START + timedelta(days=1)}
    clock.move_to(START + timedelta(days=1, seconds=1))
    assert share_list(credential) == [] and "friend" not in owner_client.get(url).content.decode()


def test_an_end_in_the_past_or_not_a_time_is_refused_by_field(owner_client, credential, clock):
    make_user("friend")
    url = reverse("credentials:shares", kwargs={"pk": credential.pk})
    past = owner_client.post(url, {"user": "friend", "permissions": ["use"], "expires_at": "2026-12-01T08:00"})
    assert past.status_code == 200 and "Enter a time in the future." in past.context["form"].errors["expires_at"]
    garbage = owner_client.post(url, {"user": "friend", "permissions": ["use"], "expires_at": "tomorrow"})
    assert garbage.status_code == 200 and "expires_at" in garbage.context["form"].errors
    assert share_list(credential) == []


def test_the_site_time_zone_reads_the_end(owner_client, credential, clock, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # UTC+1 in December
    make_user("friend")
    url = reverse("credentials:shares", kwargs={"pk": credential.pk})
    owner_client.post(url, {"user": "friend", "permissions": ["view"], "expires_at": "2026-12-01T12:00"})
    assert share_list(credential)[0].expires_at == {"view": START + timedelta(hours=2)}
    assert "view until" in owner_client.get(url).content.decode()


# Who may request.


def test_the_owner_makes_it_requestable_on_the_share_page(owner_client, credential, contractors):
    page = owner_client.get(reverse("credentials:shares", kwargs={"pk": credential.pk})).content.decode()
    assert "Who may request access" in page and 'data-share-candidates="group"' in page
    url = reverse("credentials:requestable-settings", kwargs={"pk": credential.pk})
    saved = owner_client.post(url, {"who": "group", "group": "contractors", "max_access_hours": "12"}, follow=True)
    assert "Saved who may request access: members of contractors." in saved.content.decode()
    credential.refresh_from_db()
    assert (credential.requestable_by, credential.max_access_hours) == (contractors, 12)
    for refused in ({"who": "group"}, {"who": "group", "group": "nobody-by-that-name"}, {"who": "x"}):
        said = owner_client.post(url, refused, follow=True).content.decode()
        assert 'class="message error"' in said
    credential.refresh_from_db()
    assert credential.requestable_by == contractors
    owner_client.post(url, {"who": "everyone"})
    credential.refresh_from_db()
    assert (credential.requestable_by, credential.requestable_by_everyone) == (None, True)


def test_a_user_who_may_not_share_cannot_say_who_may_request(credential, user_with_use):
    url = reverse("credentials:requestable-settings", kwargs={"pk": credential.pk})
    assert client_for(user_with_use).post(url, {"who": "everyone"}).status_code == 403
    assert client_for(make_user("nobody")).post(url, {"who": "everyone"}).status_code == 404
    shares = client_for(user_with_use).get(reverse("credentials:shares", kwargs={"pk": credential.pk}))
    assert shares.status_code in (200, 403) and b"Who may request access" not in shares.content


# Requesting.


def test_the_list_shows_only_what_may_be_discovered(owner, member, requestable):
    make_credential(owner, "github_pat", name="hidden-token")
    listing = client_for(member).get(reverse("credentials:requestable")).content.decode()
    assert "deploy-token" in listing and "Deploys the shop" in listing and "owner" in listing
    assert "hidden-token" not in listing
    assert reverse("credentials:detail", kwargs={"pk": requestable.pk}) not in listing


def test_bad_hours_and_reason_re_render_the_form_and_write_nothing(member, requestable):
    asker = client_for(member)
    url = reverse("credentials:request-access", kwargs={"pk": requestable.pk})
    page = asker.get(url).content.decode()
    assert "At most 24" in page and 'for="id_hours"' in page and 'for="id_reason"' in page
    before = AuditEvent.objects.count()
    for posted, field, said in (
        ({"permission": "use", "hours": "25", "reason": "x"}, "hours", "at most 24 hours"),
        ({"permission": "use", "hours": "0", "reason": "x"}, "hours", "one hour or more"),
        ({"permission": "use", "hours": "eight", "reason": "x"}, "hours", "whole number"),
        ({"permission": "use", "hours": "8", "reason": "   "}, "reason", "required"),
        ({"permission": "change", "hours": "8", "reason": "x"}, "permission", "valid choice"),
    ):
        response = asker.post(url, posted)
        assert response.status_code == 200, posted
        assert said in " ".join(response.context["form"].errors[field]), posted
    assert not AccessRequest.objects.exists() and AuditEvent.objects.count() == before


def test_what_may_not_be_discovered_is_404_on_the_request_page(owner, requestable):
    hidden = make_credential(owner, "github_pat", name="hidden")
    outsider = client_for(make_user("outsider"))
    for credential in (hidden, requestable):
        url = reverse("credentials:request-access", kwargs={"pk": credential.pk})
        assert outsider.get(url).status_code == 404
        assert outsider.post(url, {"permission": "use", "hours": "1", "reason": "x"}).status_code == 404
    assert not AccessRequest.objects.exists()


def test_request_review_approve_and_use(owner, member, requestable, clock):
    asker, approver = client_for(member), client_for(owner)
    form_url = reverse("credentials:request-access", kwargs={"pk": requestable.pk})
    asked = asker.post(form_url, {"permission": "use", "hours": "8", "reason": "Release"}, follow=True)
    assert 'class="message success"' in asked.content.decode() and "Release" in asked.content.decode()
    request = AccessRequest.objects.get()
    review = approver.get(reverse("credentials:review-requests")).content.decode()
    assert all(text in review for text in ("member", "deploy-token", "use, 8 h", "Release", "2026-12-04 09:00 UTC"))
    assert 'name="csrfmiddlewaretoken"' in review and 'for="deny-' in review
    approve = approver.post(reverse("credentials:approve-request", kwargs={"request_id": request.pk}), follow=True)
    assert "Approved member's use of deploy-token: the grant ends 2026-12-01 17:00 UTC." in text(approve)
    assert reveal(member, requestable)
    mine = asker.get(reverse("credentials:my-requests")).content.decode()
    assert "Approved" in mine and "2026-12-01 17:00 UTC" in mine
    again = approver.post(reverse("credentials:approve-request", kwargs={"request_id": request.pk}), follow=True)
    assert 'class="message error"' in again.content.decode() and "already approved" in again.content.decode()
    shares = approver.get(reverse("credentials:shares", kwargs={"pk": requestable.pk})).content.decode()
    assert "use until" in shares and "2026-12-01 17:00 UTC" in shares


def test_nobody_approves_their_own_and_non_approvers_are_refused(owner, member, requestable, asked):
    approve = reverse("credentials:approve-request", kwargs={"request_id": asked.pk})
    # The requester: 403, the service's reason shown, nothing written.
    own = client_for(member).post(approve)
    assert own.status_code == 403 and "Nobody approves or denies their own request." in own.content.decode()
    # Someone who may use the credential but not share it: 403; someone who may not see it: 404.
    user = make_user("user-with-use")
    credential_share(actor=owner, credential_id=requestable.pk, permissions=["use"], user=user)
    assert client_for(user).post(approve).status_code == 403
    assert client_for(make_user("stranger-x")).post(approve).status_code == 404
    assert client_for(owner).get(approve).status_code == 405
    assert AccessRequest.objects.get(pk=asked.pk).status == "pending"


def test_deny_needs_a_reason_and_strangers_get_404(owner, member, asked):
    url = reverse("credentials:deny-request", kwargs={"request_id": asked.pk})
    before = AuditEvent.objects.count()
    refused = client_for(owner).post(url, {"reason": ""}, follow=True)
    assert 'class="message error"' in refused.content.decode()
    assert AccessRequest.objects.get(pk=asked.pk).status == "pending" and AuditEvent.objects.count() == before
    assert client_for(make_user("stranger-x")).post(url, {"reason": "no"}).status_code == 404
    denied = client_for(owner).post(url, {"reason": "Not this week"}, follow=True)
    assert "Denied member's request for use of deploy-token" in text(denied)
    assert AccessRequest.objects.get(pk=asked.pk).decision_reason == "Not this week"
    assert "Not this week" in client_for(member).get(reverse("credentials:my-requests")).content.decode()


def test_the_requester_cancels_after_being_asked(owner, member, asked):
    url = reverse("credentials:cancel-request", kwargs={"request_id": asked.pk})
    mine = client_for(member).get(reverse("credentials:my-requests")).content.decode()
    assert f'href="{url}"' in mine
    confirm = client_for(member).get(url)
    assert confirm.status_code == 200 and b"Cancel your request" in confirm.content
    assert AccessRequest.objects.get(pk=asked.pk).status == "pending"  # asking is not cancelling
    assert client_for(owner).get(url).status_code == 403  # an approver denies instead
    assert client_for(owner).post(url).status_code == 403
    assert client_for(make_user("stranger-x")).get(url).status_code == 404
    done = client_for(member).post(url, follow=True)
    assert "Cancelled your request for use of deploy-token." in done.content.decode()
    assert AccessRequest.objects.get(pk=asked.pk).status == "cancelled"


def test_an_expired_request_is_refused_with_its_message(owner, asked, clock):
    clock.move_to(asked.answer_by + timedelta(seconds=1))
    said = client_for(owner).post(reverse("credentials:approve-request", kwargs={"request_id": asked.pk}), follow=True)
    assert 'class="message error"' in said.content.decode() and "expired" in said.content.decode()
    assert AccessRequest.objects.get(pk=asked.pk).status == "pending"


# The navigation.


def test_the_nav_counts_pending_reviews_in_one_query(owner, member, asked, superuser):
    approver = client_for(owner)
    assert review_link(approver) == f"Review requests ({pending_review_count(owner)})" == "Review requests (1)"
    assert review_link(client_for(member)) is None  # a requester with nothing to decide
    assert review_link(client_for(superuser)) == "Review requests (1)"
    assert review_link(client_for(make_user("newcomer"))) is None
    with CaptureQueriesContext(connection) as queries:
        approver.get(reverse("credentials:requestable"))
    assert sum("credentials_accessrequest" in q["sql"] for q in queries) == 1
    approver.post(reverse("credentials:approve-request", kwargs={"request_id": asked.pk}))
    assert review_link(approver) == "Review requests (0)"  # one who has decided keeps the link at zero


def test_the_count_is_not_computed_for_visitors_or_pages_without_the_nav(client, db):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("login")).status_code == 200
    assert not any("credentials_accessrequest" in q["sql"] for q in queries)
