"""Sharing and teams: who reaches a credential through shares and groups, what each may do, and the audit."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from credentials.errors import CredentialNotFound, CredentialPermissionDenied, InvalidCredential
from credentials.models import CredentialGroupPermission, CredentialUserPermission
from credentials.permissions import actions_for
from credentials.selectors import credential_get_for_user, credential_list_for_user
from credentials.services import credential_reveal, credential_update
from credentials.sharing import credential_share, credential_unshare, share_list
from credentials.teams import team_set_manager
from tests.factories import make_credential, valid_fields

ALL = ["use", "view", "change", "delete", "share"]


def events(credential, action):
    return list(AuditEvent.objects.filter(credential_ref=str(credential.pk), action=action).order_by("id"))


# --- The share services ---------------------------------------------------------------------------


def test_sharing_grants_what_was_asked_and_is_audited(owner, friend, credential):
    share = credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"])
    assert (share.kind, share.name, share.permissions) == ("user", "friend", ("use",))
    assert actions_for(friend, credential_get_for_user(friend, credential_id=credential.pk)) == ["use"]
    [event] = events(credential, AuditAction.SHARED)
    assert event.details == {
        "user": "friend",
        "user_id": friend.pk,
        "granted": ["use"],
        "now": ["use"],
        "expires_at": None,
    }
    assert event.actor_id == owner.pk


def test_sharing_again_adds_only_what_is_new_and_repeats_are_not_audited(owner, friend, credential):
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"])
    share = credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use", "view"])
    assert share.permissions == ("use", "view")
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["view"])
    assert [e.details["granted"] for e in events(credential, AuditAction.SHARED)] == [["use"], ["view"]]


def test_unsharing_takes_back_some_or_all(owner, friend, credential):
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use", "view", "change"])
    share = credential_unshare(actor=owner, credential_id=credential.pk, user=friend, permissions=["change"])
    assert share.permissions == ("use", "view")
    share = credential_unshare(actor=owner, credential_id=credential.pk, user=friend)
    assert share.permissions == ()
    assert [e.details["revoked"] for e in events(credential, AuditAction.UNSHARED)] == [["change"], ["use", "view"]]
    with pytest.raises(CredentialNotFound):
        credential_get_for_user(friend, credential_id=credential.pk)
    # Nothing left to take back: no event.
    credential_unshare(actor=owner, credential_id=credential.pk, user=friend)
    assert len(events(credential, AuditAction.UNSHARED)) == 2


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"permissions": ["delete"]}, "permissions"),
        ({"permissions": ["share"]}, "permissions"),
        ({"permissions": []}, "permissions"),
        ({"permissions": "use"}, "permissions"),
    ],
)
def test_only_use_view_and_change_can_be_shared(owner, friend, credential, arguments, field):
    with pytest.raises(InvalidCredential) as refused:
        credential_share(actor=owner, credential_id=credential.pk, user=friend, **arguments)
    assert field in refused.value.errors
    assert not CredentialUserPermission.objects.exists()
    assert not events(credential, AuditAction.SHARED)


def test_a_share_names_one_grantee_who_is_not_the_owner(owner, friend, ops, credential):
    with pytest.raises(InvalidCredential) as both:
        credential_share(actor=owner, credential_id=credential.pk, user=friend, group=ops, permissions=["use"])
    assert "__all__" in both.value.errors
    with pytest.raises(InvalidCredential) as neither:
        credential_share(actor=owner, credential_id=credential.pk, permissions=["use"])
    assert "__all__" in neither.value.errors
    with pytest.raises(InvalidCredential) as self_share:
        credential_share(actor=owner, credential_id=credential.pk, user=owner, permissions=["use"])
    assert "user" in self_share.value.errors


def test_only_owners_managers_and_admins_share(owner, friend, stranger, credential):
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use", "view", "change"])
    with pytest.raises(CredentialPermissionDenied):
        credential_share(actor=friend, credential_id=credential.pk, user=stranger, permissions=["use"])
    with pytest.raises(CredentialNotFound):
        credential_share(actor=stranger, credential_id=credential.pk, user=stranger, permissions=["use"])
    with pytest.raises(CredentialPermissionDenied):
        credential_unshare(actor=friend, credential_id=credential.pk, user=friend)
    assert share_list(credential)[0].permissions == ("use", "view", "change")


def test_group_shares_reach_every_member(owner, friend, ops, credential):
    ops.user_set.add(friend)
    share = credential_share(actor=owner, credential_id=credential.pk, group=ops, permissions=["use", "view"])
    assert (share.kind, share.name) == ("group", "ops")
    assert CredentialGroupPermission.objects.filter(group=ops).count() == 2
    assert actions_for(friend, credential_get_for_user(friend, credential_id=credential.pk)) == ["use", "view"]
    revealed = credential_reveal(actor=friend, credential_id=credential.pk, service="test")
    assert revealed["token"] == valid_fields("github_pat")["token"]
    ops.user_set.remove(friend)
    with pytest.raises(CredentialNotFound):
        credential_get_for_user(friend, credential_id=credential.pk)


def test_share_list_names_users_then_groups(owner, friend, ops, credential):
    credential_share(actor=owner, credential_id=credential.pk, group=ops, permissions=["use"])
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["view"])
    assert [(s.kind, s.name, s.permissions) for s in share_list(credential)] == [
        ("user", "friend", ("view",)),
        ("group", "ops", ("use",)),
    ]


# --- Teams ----------------------------------------------------------------------------------------


def test_only_admins_appoint_team_managers(owner, friend, ops):
    with pytest.raises(CredentialPermissionDenied):
        team_set_manager(actor=owner, team=ops, user=friend, is_manager=True)


def test_a_credential_goes_only_to_a_team_its_creator_is_in(owner, ops):
    with pytest.raises(InvalidCredential) as refused:
        make_credential(owner, team=ops)
    assert "team" in refused.value.errors


def test_moving_a_credential_between_teams_needs_share_and_membership(owner, friend, superuser, ops, team_credential):
    other = Group.objects.create(name="other")
    with pytest.raises(InvalidCredential) as refused:
        credential_update(actor=owner, credential_id=team_credential.pk, changes={"team": other})
    assert "team" in refused.value.errors
    other.user_set.add(owner)
    moved = credential_update(actor=owner, credential_id=team_credential.pk, changes={"team": other})
    assert moved.team == other
    [event] = events(team_credential, AuditAction.UPDATED)
    assert event.details["changes"]["team"] == {"old": "ops", "new": "other"}

    credential_share(actor=owner, credential_id=team_credential.pk, user=friend, permissions=["change"])
    with pytest.raises(CredentialPermissionDenied):
        credential_update(actor=friend, credential_id=team_credential.pk, changes={"team": None})


# --- The list selector ----------------------------------------------------------------------------


def test_expiring_within_keeps_those_that_expire_soon(owner):
    now = timezone.now()
    make_credential(owner, name="soon", expires_at=now + timedelta(days=2))
    make_credential(owner, name="later", expires_at=now + timedelta(days=40))
    make_credential(owner, name="never")
    assert [c.name for c in credential_list_for_user(owner, expiring_within=timedelta(days=7))] == ["soon"]
    assert [c.name for c in credential_list_for_user(owner, expiring_within=timedelta(days=60))] == ["later", "soon"]


def test_appointing_and_removing_a_team_manager_is_audited_once_each(superuser, friend, ops):
    team_set_manager(actor=superuser, team=ops, user=friend, is_manager=True, ip="10.0.0.9")
    team_set_manager(actor=superuser, team=ops, user=friend, is_manager=True)  # already one: nothing to record
    team_set_manager(actor=superuser, team=ops, user=friend, is_manager=False)
    team_set_manager(actor=superuser, team=ops, user=friend, is_manager=False)
    recorded = AuditEvent.objects.filter(action__startswith="manager_").order_by("id")
    assert [(e.action, e.details["team"], e.details["user"], e.ip) for e in recorded] == [
        (AuditAction.MANAGER_APPOINTED, "ops", "friend", "10.0.0.9"),
        (AuditAction.MANAGER_REMOVED, "ops", "friend", None),
    ]
    assert all(e.actor == superuser for e in recorded)
