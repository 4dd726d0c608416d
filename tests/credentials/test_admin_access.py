"""Access requests in the admin: a read-only list for staff, approve and deny actions for superusers only."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from credentials.access.services import access_request_create, credential_set_requestable
from credentials.admin.access import ADMIN_DENIAL
from credentials.models import AccessRequest
from credentials.sharing import share_list
from tests.factories import make_credential, make_user

CHANGELIST = "admin:credentials_accessrequest_changelist"


@pytest.fixture
def asked(owner, member, contractors, clock):
    credential = make_credential(owner, "github_pat", name="deploy-token")
    credential_set_requestable(actor=owner, credential_id=credential.pk, group=contractors)
    return access_request_create(actor=member, credential_id=credential.pk, permission="use", hours=2, reason="Oncall")


def logged_in(client, user):
    client.force_login(user)
    return client


def act(client, action: str, *requests: AccessRequest) -> str:
    """The page after the action, as a reader sees its words (&#x27; turned back into an apostrophe)."""
    data = {"action": action, "_selected_action": [str(r.pk) for r in requests]}
    return html.unescape(client.post(reverse(CHANGELIST), data, follow=True).content.decode())


def test_the_list_renders_read_only_without_actions_for_other_staff(client, asked):
    staff = make_user("staff-only", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename="view_accessrequest"))
    page = logged_in(client, staff).get(reverse(CHANGELIST))
    html = page.content.decode()
    assert page.status_code == 200 and "deploy-token" in html and "member" in html
    assert "approve_selected" not in html and "deny_selected" not in html
    act(client, "approve_selected", asked)
    assert AccessRequest.objects.get(pk=asked.pk).status == "pending"
    change = client.get(reverse("admin:credentials_accessrequest_change", args=[asked.pk]))
    assert change.status_code == 200 and b'name="_save"' not in change.content


def test_superusers_see_the_actions_and_nothing_is_added_changed_or_deleted(client, asked, superuser):
    admin = logged_in(client, superuser)
    html = admin.get(reverse(CHANGELIST)).content.decode()
    for text in ("approve_selected", "deny_selected", "Answer by", "Decided by", "By status"):
        assert text in html, text
    assert admin.get(reverse("admin:credentials_accessrequest_add")).status_code == 403
    assert admin.post(reverse("admin:credentials_accessrequest_delete", args=[asked.pk])).status_code == 403
    assert AccessRequest.objects.filter(pk=asked.pk).exists()


def test_approve_selected_reports_each_request(client, asked, superuser, member, owner):
    # A superuser holds everything, so the service would refuse their asking: their own request made directly.
    own = AccessRequest.objects.create(
        credential=asked.credential,
        requester=superuser,
        permission="view",
        hours=1,
        reason="Mine",
        created_at=asked.created_at,
        answer_by=asked.answer_by,
    )
    said = act(logged_in(client, superuser), "approve_selected", asked, own)
    assert "Member's request for deploy-token: approved, the grant ending 2026-12-01 11:00 UTC." in said
    assert "Root's request for deploy-token: not approved: Nobody approves or denies their own request." in said
    assert AccessRequest.objects.get(pk=asked.pk).status == "approved"
    assert AccessRequest.objects.get(pk=own.pk).status == "pending"
    again = act(client, "approve_selected", asked)
    assert "not approved: This request was already approved." in again


def test_deny_selected_records_the_fixed_reason(client, asked, superuser):
    said = act(logged_in(client, superuser), "deny_selected", asked)
    assert "Member's request for deploy-token: denied." in said
    denied = AccessRequest.objects.get(pk=asked.pk)
    assert (denied.status, denied.decision_reason, denied.decided_by) == ("denied", ADMIN_DENIAL, superuser)


def test_the_admin_sharing_page_shares_until_an_end_and_lists_it(client, owner, superuser, clock):
    credential = make_credential(owner, "github_pat", name="shared-for-a-while")
    make_user("friend")
    url = f"/admin/credentials/credential/{credential.pk}/shares/"
    admin = logged_in(client, superuser)
    assert 'type="datetime-local"' in admin.get(url).content.decode()
    admin.post(url, {"user": "friend", "permissions": ["view"], "expires_at": "2026-12-03T09:00"})
    assert share_list(credential)[0].expires_at == {"view": timezone.now() + timedelta(days=2)}
    assert "view until" in admin.get(url).content.decode()
