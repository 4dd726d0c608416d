"""Fixtures shared by the credential tests: a credential, a second user, a group, a team's credential."""

import pytest
from django.contrib.auth.models import Group

from tests.factories import make_credential, make_user


@pytest.fixture
def credential(owner):
    return make_credential(owner, "github_pat", name="deploy")


@pytest.fixture
def friend(db):
    return make_user("friend")


@pytest.fixture
def ops(db):
    return Group.objects.create(name="ops")


@pytest.fixture
def team_credential(owner, ops):
    ops.user_set.add(owner)
    return make_credential(owner, "postgres", name="team-db", team=ops)
