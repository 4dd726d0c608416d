"""The permission rules: what each source of access allows (shares, teams, ownership), read back per row."""

import pytest
from django.contrib.auth.models import Group

from credentials.errors import CredentialPermissionDenied
from credentials.permissions import actions_for, permission_ids, user_can
from credentials.selectors import credential_get_for_user, credential_list_for_user
from credentials.services import credential_reveal, credential_update
from credentials.sharing import credential_share
from credentials.teams import team_set_manager
from tests.factories import make_credential, make_user


def test_change_implies_view_but_not_use(owner, friend, credential):
    credential_share(actor=owner, credential_id=credential.pk, user=friend, permissions=["change"])
    assert actions_for(friend, credential_get_for_user(friend, credential_id=credential.pk)) == ["view", "change"]
    with pytest.raises(CredentialPermissionDenied):
        credential_reveal(actor=friend, credential_id=credential.pk, service="test")


def test_team_members_use_and_managers_change_and_share(owner, friend, stranger, superuser, ops, team_credential):
    ops.user_set.add(friend)
    assert actions_for(friend, credential_get_for_user(friend, credential_id=team_credential.pk)) == ["use"]
    credential_reveal(actor=friend, credential_id=team_credential.pk, service="test")

    manager = make_user("manager")
    team_set_manager(actor=superuser, team=ops, user=manager, is_manager=True)
    fresh = credential_get_for_user(manager, credential_id=team_credential.pk)
    assert actions_for(manager, fresh) == ["use", "view", "change", "share"]
    credential_update(actor=manager, credential_id=team_credential.pk, changes={"description": "by the manager"})
    credential_share(actor=manager, credential_id=team_credential.pk, user=stranger, permissions=["use"])
    assert not user_can(manager, "delete", fresh)

    team_set_manager(actor=superuser, team=ops, user=manager, is_manager=False)
    assert actions_for(manager, credential_get_for_user(manager, credential_id=team_credential.pk)) == ["use"]


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

    permission_ids()  # read once per process (config/caches.py), not per list
    with django_assert_num_queries(1):
        rows = {c.name: actions_for(friend, c) for c in credential_list_for_user(friend)}
    assert rows == {"direct": ["view"], "via-group": ["use"], "team-db": ["use"]}


def test_a_user_in_two_routes_to_one_credential_sees_it_once_with_both(owner, friend, ops, team_credential):
    ops.user_set.add(friend)
    credential_share(actor=owner, credential_id=team_credential.pk, user=friend, permissions=["change"])
    [row] = credential_list_for_user(friend)
    assert actions_for(friend, row) == ["use", "view", "change"]
