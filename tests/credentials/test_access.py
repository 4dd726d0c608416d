"""Time-bound access in the services: shares that end on the second, discoverable credentials, requests and approval.

The clock is moved with time-machine, never slept on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group

from audit.models import AuditAction, AuditEvent
from credentials.access import events
from credentials.access.selectors import (
    access_request_get_for_user,
    access_requests_of_user,
    access_requests_to_review,
    pending_review_count,
    requestable_credentials_for_user,
)
from credentials.access.services import (
    access_request_approve,
    access_request_cancel,
    access_request_create,
    access_request_deny,
    credential_set_requestable,
)
from credentials.access.sweep import access_sweep
from credentials.errors import (
    AccessRequestClosed,
    AccessRequestNotFound,
    CredentialNotFound,
    CredentialPermissionDenied,
    InvalidCredential,
)
from credentials.models import AccessRequest, Credential, CredentialUserPermission
from credentials.permissions import actions_for
from credentials.selectors import credential_list_for_user
from credentials.sharing import credential_share, share_list
from credentials.teams import team_set_manager
from credentials.testers.runs import credential_test_request
from tests.factories import CLOCK_START as START
from tests.factories import make_credential, make_user, reveal


@pytest.fixture
def credential(owner, clock):
    return make_credential(owner, "github_pat", name="contract-token")


def listed(user) -> list[str]:
    return [row.name for row in credential_list_for_user(user)]


# --- Grants with an end ---------------------------------------------------------------------------


def test_a_share_is_honoured_until_the_second_before_its_end(
    credential, owner, clock, eager_tasks, django_capture_on_commit_callbacks
):
    contractor = make_user("contractor")
    end = START + timedelta(days=7)
    credential_share(actor=owner, credential_id=credential.pk, user=contractor, permissions=["use"], expires_at=end)

    clock.move_to(end - timedelta(seconds=1))
    assert reveal(contractor, credential)["token"]  # the door
    assert listed(contractor) == ["contract-token"]  # the list
    assert actions_for(contractor, Credential.objects.get(pk=credential.pk)) == ["use"]
    # A test queued now and run by the worker after the end: the door refuses it there.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        credential_test_request(actor=contractor, credential_id=credential.pk)

    clock.move_to(end + timedelta(seconds=1))
    for callback in queued:
        callback()  # the worker's run (in-process here), after the end
    refused = AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED, actor=contractor).get()
    assert refused.details["reason"] == "no use permission"
    with pytest.raises(CredentialNotFound):
        reveal(contractor, credential)
    assert listed(contractor) == []
    with pytest.raises(CredentialNotFound):
        credential_test_request(actor=contractor, credential_id=credential.pk)
    assert share_list(credential) == []  # an ended share is not listed, sweep or not


def test_a_group_share_ends_too(credential, owner, clock):
    team = Group.objects.create(name="night-shift")
    oncall = make_user("oncall")
    team.user_set.add(oncall)
    end = START + timedelta(hours=12)
    credential_share(actor=owner, credential_id=credential.pk, group=team, permissions=["use"], expires_at=end)
    assert share_list(credential)[0].expires_at == {"use": end}
    clock.move_to(end - timedelta(seconds=1))
    assert reveal(oncall, credential)
    clock.move_to(end)
    with pytest.raises(CredentialNotFound):
        reveal(oncall, credential)


def test_extending_or_shortening_a_share_is_an_audited_change(credential, owner, clock):
    friend = make_user("friend")
    first, later = START + timedelta(days=1), START + timedelta(days=3)
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"], expires_at=first)
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"], expires_at=first)
    assert AuditEvent.objects.filter(action=AuditAction.SHARE_CHANGED).count() == 0  # same end: nothing
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"], expires_at=later)
    changed = AuditEvent.objects.get(action=AuditAction.SHARE_CHANGED)
    assert changed.details["ended_at_before"] == {"use": first.isoformat()}
    assert changed.details["expires_at"] == later.isoformat()
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"])  # no end now
    assert share_list(credential)[0].expires_at == {"use": None}


@pytest.mark.parametrize("end", [START - timedelta(seconds=1), START, "tomorrow", datetime(2027, 1, 1)])
def test_an_end_in_the_past_or_not_a_time_is_refused(credential, owner, end):
    with pytest.raises(InvalidCredential) as refused:
        credential_share(
            actor=owner, credential_id=credential.pk, user=make_user("x"), permissions=["use"], expires_at=end
        )
    assert list(refused.value.errors) == ["expires_at"]
    assert not CredentialUserPermission.objects.exists()


def test_an_ended_share_can_be_granted_again(credential, owner, clock):
    friend = make_user("friend")
    end = START + timedelta(hours=1)
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"], expires_at=end)
    clock.move_to(end + timedelta(minutes=1))
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"])
    assert reveal(friend, credential)
    assert AuditEvent.objects.filter(action=AuditAction.SHARED).count() == 2


def test_the_sweep_removes_ended_shares_announces_ending_ones_and_audits(
    credential, owner, clock, django_capture_on_commit_callbacks
):
    ending, ended = [], []
    events.grant_ending.connect(lambda **facts: ending.append(facts), weak=False, dispatch_uid="t-ending")
    events.grant_expired.connect(lambda **facts: ended.append(facts), weak=False, dispatch_uid="t-ended")
    try:
        friend = make_user("friend")
        end = START + timedelta(hours=30)
        credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"], expires_at=end)
        access_sweep()
        assert ending == []  # more than GRANT_ENDING_NOTICE_HOURS away
        clock.move_to(end - timedelta(hours=2))
        with django_capture_on_commit_callbacks(execute=True):  # events are raised once committed
            assert access_sweep().grants_ending == 1 and access_sweep().grants_ending == 0  # once
        assert ending[0]["permission"] == "use" and ending[0]["grantee_id"] == friend.pk
        clock.move_to(end)
        with django_capture_on_commit_callbacks(execute=True):
            report = access_sweep()
        assert report.shares_expired == 1 and not CredentialUserPermission.objects.exists()
        event = AuditEvent.objects.get(action=AuditAction.SHARE_EXPIRED)
        assert event.details == {"user": "friend", "user_id": friend.pk, "ended": ["use"]}
        assert ended[0]["permissions"] == ["use"]
    finally:
        events.grant_ending.disconnect(dispatch_uid="t-ending")
        events.grant_expired.disconnect(dispatch_uid="t-ended")


# --- Discoverable credentials --------------------------------------------------------------------


def test_members_discover_a_requestable_credential_by_its_name_only(credential, owner, contractors, member):
    assert list(requestable_credentials_for_user(member)) == []
    credential_set_requestable(actor=owner, credential_id=credential.pk, group=contractors)
    [row] = requestable_credentials_for_user(member)
    assert set(row) == {"id", "name", "type__name", "type__slug", "environment", "owner__username", "description"}
    with pytest.raises(CredentialNotFound):  # everything else about it still answers 404
        reveal(member, credential)
    assert listed(member) == []
    assert list(requestable_credentials_for_user(make_user("outsider"))) == []
    credential_set_requestable(actor=owner, credential_id=credential.pk, everyone=True)
    assert len(requestable_credentials_for_user(make_user("anyone"))) == 1
    assert AuditEvent.objects.filter(action=AuditAction.REQUESTABLE_CHANGED).count() == 2


def test_only_those_who_may_share_make_it_requestable(credential, owner, contractors):
    viewer = make_user("viewer")
    credential_share(actor=owner, credential_id=credential.pk, user=viewer, permissions=["view", "change"])
    with pytest.raises(CredentialPermissionDenied):
        credential_set_requestable(actor=viewer, credential_id=credential.pk, everyone=True)
    with pytest.raises(InvalidCredential) as refused:
        credential_set_requestable(actor=owner, credential_id=credential.pk, group=contractors, everyone=True)
    assert list(refused.value.errors) == ["group"]


# --- Requests -------------------------------------------------------------------------------------------


@pytest.fixture
def requestable(credential, owner, contractors):
    credential_set_requestable(actor=owner, credential_id=credential.pk, group=contractors)
    return credential


def ask(user, credential, permission="use", hours=8, reason="On call tonight"):
    return access_request_create(
        actor=user, credential_id=credential.pk, permission=permission, hours=hours, reason=reason, ip="10.1.1.1"
    )


def test_request_approve_use_and_expire(requestable, owner, member, clock, django_capture_on_commit_callbacks):
    decided = []
    events.access_decided.connect(lambda **facts: decided.append(facts), weak=False, dispatch_uid="t-decided")
    try:
        request = ask(member, requestable)
        assert pending_review_count(owner) == 1 and pending_review_count(member) == 0
        assert list(access_requests_to_review(owner)) == [request]
        assert list(access_requests_of_user(member)) == [request]
        clock.move_to(START + timedelta(minutes=5))
        with django_capture_on_commit_callbacks(execute=True):
            approved = access_request_approve(actor=owner, request_id=request.pk)
        end = START + timedelta(minutes=5, hours=8)
        assert (approved.status, approved.grant_expires_at) == ("approved", end)
        assert decided[0]["status"] == "approved"
        clock.move_to(end - timedelta(seconds=1))
        assert reveal(member, requestable)
        clock.move_to(end + timedelta(seconds=1))
        with pytest.raises(CredentialNotFound):
            reveal(member, requestable)
    finally:
        events.access_decided.disconnect(dispatch_uid="t-decided")
    actions = list(
        AuditEvent.objects.filter(credential_ref=str(requestable.pk)).order_by("id").values_list("action", flat=True)
    )
    assert actions[-4:] == ["access_requested", "access_request_approved", "accessed", "access_denied"]


def test_nobody_approves_their_own_request_even_once_they_may_approve(owner, contractors, member, superuser, clock):
    team = Group.objects.create(name="owning-team")
    owner.groups.add(team)
    team_credential = make_credential(owner, "github_pat", name="team-cred", team=team)
    credential_set_requestable(actor=owner, credential_id=team_credential.pk, group=contractors)
    request = ask(member, team_credential)
    team_set_manager(actor=superuser, team=team, user=member, is_manager=True)  # now one of its approvers
    with pytest.raises(CredentialPermissionDenied):
        access_request_approve(actor=member, request_id=request.pk)
    assert request not in access_requests_to_review(member)
    assert access_request_approve(actor=superuser, request_id=request.pk).status == "approved"


def test_a_requester_cannot_decide_their_own_request(requestable, owner, member):
    request = ask(member, requestable)
    with pytest.raises(CredentialPermissionDenied):
        access_request_approve(actor=member, request_id=request.pk)
    with pytest.raises(CredentialPermissionDenied):
        access_request_deny(actor=member, request_id=request.pk, reason="no")
    assert AccessRequest.objects.get(pk=request.pk).status == "pending"


def test_strangers_and_users_who_only_use_it_may_not_decide(requestable, owner, member):
    request = ask(member, requestable)
    with pytest.raises(AccessRequestNotFound):
        access_request_approve(actor=make_user("stranger-x"), request_id=request.pk)
    user = make_user("only-use")
    credential_share(actor=owner, credential_id=requestable.pk, user=user, permissions=["use", "view"])
    with pytest.raises(CredentialPermissionDenied):
        access_request_approve(actor=user, request_id=request.pk)
    with pytest.raises(AccessRequestNotFound):
        access_request_get_for_user(make_user("stranger-y"), request_id=request.pk)
    assert access_request_get_for_user(owner, request_id=request.pk) == request


def test_approving_twice_or_after_it_expired_is_refused_and_writes_nothing(requestable, owner, member, clock, settings):
    request = ask(member, requestable)
    access_request_approve(actor=owner, request_id=request.pk)
    events_before = AuditEvent.objects.count()
    with pytest.raises(AccessRequestClosed):
        access_request_approve(actor=owner, request_id=request.pk)
    late = ask(member, requestable, permission="view")
    clock.move_to(START + timedelta(hours=settings.ACCESS_REQUEST_TTL_HOURS, seconds=1))
    with pytest.raises(AccessRequestClosed):
        access_request_approve(actor=owner, request_id=late.pk)
    assert AuditEvent.objects.count() == events_before + 1  # only the second request's own event
    assert access_sweep().requests_expired == 1
    assert AccessRequest.objects.get(pk=late.pk).status == "expired"
    assert AuditEvent.objects.filter(action=AuditAction.ACCESS_REQUEST_EXPIRED).count() == 1


def test_deny_needs_a_reason_and_cancel_is_the_requesters(requestable, owner, member):
    request = ask(member, requestable)
    with pytest.raises(InvalidCredential) as refused:
        access_request_deny(actor=owner, request_id=request.pk, reason="  ")
    assert list(refused.value.errors) == ["reason"]
    with pytest.raises(CredentialPermissionDenied):
        access_request_cancel(actor=owner, request_id=request.pk)
    access_request_cancel(actor=member, request_id=request.pk)
    assert AccessRequest.objects.get(pk=request.pk).status == "cancelled"
    again = ask(member, requestable)
    denied = access_request_deny(actor=owner, request_id=again.pk, reason="Not this week")
    assert (denied.status, denied.decision_reason, denied.decided_by) == ("denied", "Not this week", owner)
    with pytest.raises(AccessRequestClosed):
        access_request_cancel(actor=member, request_id=again.pk)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hours": 169}, "hours"),
        ({"hours": 0}, "hours"),
        ({"hours": -3}, "hours"),
        ({"hours": "8"}, "hours"),
        ({"hours": True}, "hours"),
        ({"permission": "change"}, "permission"),
        ({"permission": "delete"}, "permission"),
        ({"reason": ""}, "reason"),
        ({"reason": "x" * 1001}, "reason"),
        ({"reason": "nul\x00"}, "reason"),
    ],
)
def test_bad_requests_are_refused_by_field_and_nothing_is_written(requestable, member, changes, field):
    with pytest.raises(InvalidCredential) as refused:
        ask(member, requestable, **changes)
    assert field in refused.value.errors
    assert not AccessRequest.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.ACCESS_REQUESTED).exists()


def test_the_credential_may_cap_hours_lower(requestable, owner, contractors, member):
    credential_set_requestable(actor=owner, credential_id=requestable.pk, group=contractors, max_access_hours=4)
    with pytest.raises(InvalidCredential) as refused:
        ask(member, requestable, hours=5)
    assert "at most 4 hours" in refused.value.errors["hours"][0]
    assert ask(member, requestable, hours=4).hours == 4


def test_what_cannot_be_discovered_is_not_found_and_what_is_held_is_refused(credential, owner, member, requestable):
    hidden = make_credential(owner, "github_pat", name="hidden")
    with pytest.raises(CredentialNotFound):
        ask(member, hidden)
    with pytest.raises(CredentialNotFound):
        ask(make_user("not-a-member"), requestable)
    credential_share(actor=owner, credential_id=requestable.pk, user=member, permissions=["use"])
    with pytest.raises(InvalidCredential) as refused:
        ask(member, requestable, permission="use")
    assert "already" in refused.value.errors["permission"][0]
    ask(member, requestable, permission="view")
    with pytest.raises(InvalidCredential):
        ask(member, requestable, permission="view")  # asked already, still pending


def test_approval_never_shortens_a_longer_grant(requestable, owner, member, clock):
    request = ask(member, requestable, hours=2)
    credential_share(actor=owner, credential_id=requestable.pk, user=member, permissions=["use"])  # meanwhile
    approved = access_request_approve(actor=owner, request_id=request.pk)
    assert approved.grant_expires_at is None
    assert share_list(requestable)[0].expires_at == {"use": None}
