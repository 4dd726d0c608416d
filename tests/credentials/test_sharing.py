"""Sharing and teams: who reaches a credential through shares and groups, what each may do, and the audit."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from credentials.errors import CredentialNotFound, CredentialPermissionDenied, InvalidCredential
from credentials.models import CredentialGroupPermission, CredentialUserPermission
from credentials.permissions import actions_for, user_can
from credentials.selectors import credential_get_for_user, credential_list_for_user
from credentials.services import credential_reveal, credential_update
from credentials.sharing import credential_share, credential_unshare, share_list
from credentials.teams import team_set_manager
from tests.factories import make_credential, make_user, valid_fields

ALL = ["use", "view", "change", "delete", "share"]


@pytest.fixture
def credential(owner):
    return make_credential(owner, "github_pat", name="deploy")


@pytest.fixture
def friend(db):
    return make_user("friend")


@pytest.fixture
def ops(db):
    return Group.objects.create(name="ops")


def events(credential, action):
    return list(AuditEvent.objects.filter(credential_ref=str(credential.pk), action=action).order_by("id"))


# --- The share services ---------------------------------------------------------------------------


def test_sharing_grants_what_was_asked_and_is_audited(owner, friend, credential):
    share = credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"])
    assert (share.kind, share.name, share.permissions) == ("user", "friend", ("use",))
    assert actions_for(friend, credential_get_for_user(friend, credential.pk)) == ["use"]
    [event] = events(credential, AuditAction.SHARED)
    assert event.details == {"user": "friend", "user_id": friend.pk, "granted": ["use"], "now": ["use"]}
    assert event.actor_id == owner.pk


def test_sharing_again_adds_only_what_is_new_and_repeats_are_not_audited(owner, friend, credential):
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use"])
    share = credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use", "view"])
    assert share.permissions == ("use", "view")
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["view"])
    assert [e.details["granted"] for e in events(credential, AuditAction.SHARED)] == [["use"], ["view"]]


def test_change_implies_view_but_not_use(owner, friend, credential):
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["change"])
    assert actions_for(friend, credential_get_for_user(friend, credential.pk)) == ["view", "change"]
    with pytest.raises(CredentialPermissionDenied):
        credential_reveal(actor=friend, credential_id=credential.pk, service="test")


def test_unsharing_takes_back_some_or_all(owner, friend, credential):
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["use", "view", "change"])
    share = credential_unshare(actor=owner, credential_id=credential.pk, user=friend, permissions=["change"])
    assert share.permissions == ("use", "view")
    share = credential_unshare(actor=owner, credential_id=credential.pk, user=friend)
    assert share.permissions == ()
    assert [e.details["revoked"] for e in events(credential, AuditAction.UNSHARED)] == [["change"], ["use", "view"]]
    with pytest.raises(CredentialNotFound):
        credential_get_for_user(friend, credential.pk)
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
    assert actions_for(friend, credential_get_for_user(friend, credential.pk)) == ["use", "view"]
    revealed = credential_reveal(actor=friend, credential_id=credential.pk, service="test")
    assert revealed["token"] == valid_fields("github_pat")["token"]
    ops.user_set.remove(friend)
    with pytest.raises(CredentialNotFound):
        credential_get_for_user(friend, credential.pk)


def test_share_list_names_users_then_groups(owner, friend, ops, credential):
    credential_share(actor=owner, credential_id=credential.pk, group=ops, permissions=["use"])
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["view"])
    assert [(s.kind, s.name, s.permissions) for s in share_list(credential)] == [
        ("user", "friend", ("view",)),
        ("group", "ops", ("use",)),
    ]


# --- Teams ----------------------------------------------------------------------------------------


@pytest.fixture
def team_credential(owner, ops):
    ops.user_set.add(owner)
    return make_credential(owner, "postgres", name="team-db", team=ops)


def test_team_members_use_and_managers_change_and_share(owner, friend, stranger, superuser, ops, team_credential):
    ops.user_set.add(friend)
    assert actions_for(friend, credential_get_for_user(friend, team_credential.pk)) == ["use"]
    credential_reveal(actor=friend, credential_id=team_credential.pk, service="test")

    manager = make_user("manager")
    team_set_manager(actor=superuser, team=ops, user=manager, is_manager=True)
    fresh = credential_get_for_user(manager, team_credential.pk)
    assert actions_for(manager, fresh) == ["use", "view", "change", "share"]
    credential_update(actor=manager, credential_id=team_credential.pk, changes={"description": "by the manager"})
    credential_share(actor=manager, credential_id=team_credential.pk, user=stranger, permissions=["use"])
    assert not user_can(manager, "delete", fresh)

    team_set_manager(actor=superuser, team=ops, user=manager, is_manager=False)
    assert actions_for(manager, credential_get_for_user(manager, team_credential.pk)) == ["use"]


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


def test_the_list_reaches_through_every_source_in_one_query(
    owner, friend, ops, django_assert_num_queries, credential, team_credential
):
    direct = make_credential(owner, "redis", name="direct")
    via_group = make_credential(owner, "http_bearer", name="via-group")
    make_credential(owner, "gitlab_pat", name="not-shared")
    credential_share(actor=owner, credential_id=direct.pk, user=friend, permissions=["view"])
    group = Group.objects.create(name="readers")
    group.user_set.add(friend)
    credential_share(actor=owner, credential_id=via_group.pk, group=group, permissions=["use"])
    ops.user_set.add(friend)

    with django_assert_num_queries(1):
        rows = {c.name: actions_for(friend, c) for c in credential_list_for_user(friend)}
    assert rows == {"direct": ["view"], "via-group": ["use"], "team-db": ["use"]}


def test_a_user_in_two_routes_to_one_credential_sees_it_once_with_both(owner, friend, ops, team_credential):
    ops.user_set.add(friend)
    credential_share(actor=owner, credential_id=team_credential.pk, user=friend, permissions=["change"])
    [row] = credential_list_for_user(friend)
    assert actions_for(friend, row) == ["use", "view", "change"]


def test_expiring_within_keeps_those_that_expire_soon(owner):
    now = timezone.now()
    make_credential(owner, name="soon", expires_at=now + timedelta(days=2))
    make_credential(owner, name="later", expires_at=now + timedelta(days=40))
    make_credential(owner, name="never")
    assert [c.name for c in credential_list_for_user(owner, expiring_within=timedelta(days=7))] == ["soon"]
    assert [c.name for c in credential_list_for_user(owner, expiring_within=timedelta(days=60))] == ["later", "soon"]
