"""Selectors: who sees which credentials, filters, and lists that never load a secret."""

from unittest import mock

import pytest
from django.contrib.auth.models import Permission

from credentials.errors import CredentialNotFound
from credentials.keys.ring import KeyRing
from credentials.permissions import actions_for, permission_ids
from credentials.selectors import (
    credential_get_by_name_for_user,
    credential_get_for_user,
    credential_list_for_user,
)
from tests.factories import make_credential, make_user


@pytest.fixture
def estate(owner, stranger):
    return {
        "mine": make_credential(owner, "github_pat", name="gh", tags=["ci", "git"]),
        "mine_staging": make_credential(owner, "postgres", name="db", environment="staging", tags=["db"]),
        "theirs": make_credential(stranger, "redis", name="cache"),
    }


def names(queryset):
    return sorted(c.name for c in queryset)


def test_users_see_their_own(owner, stranger, estate):
    assert names(credential_list_for_user(owner)) == ["db", "gh"]
    assert names(credential_list_for_user(stranger)) == ["cache"]


def test_superusers_and_staff_with_the_permission_see_all(superuser, estate):
    assert names(credential_list_for_user(superuser)) == ["cache", "db", "gh"]
    staff = make_user("staffer", is_staff=True)
    assert names(credential_list_for_user(staff)) == []
    staff.user_permissions.add(Permission.objects.get(codename="view_credential"))
    staff = type(staff).objects.get(pk=staff.pk)
    assert names(credential_list_for_user(staff)) == ["cache", "db", "gh"]
    assert actions_for(staff, estate["mine"]) == ["view"]


def test_anonymous_and_inactive_users_see_nothing(owner, estate):
    from django.contrib.auth.models import AnonymousUser

    assert not credential_list_for_user(AnonymousUser()).exists()
    owner.is_active = False
    assert not credential_list_for_user(owner).exists()


def test_filters(owner, estate):
    assert names(credential_list_for_user(owner, type_slug="postgres")) == ["db"]
    assert names(credential_list_for_user(owner, environment="production")) == ["gh"]
    assert names(credential_list_for_user(owner, tag="git")) == ["gh"]
    assert names(credential_list_for_user(owner, tag="gi")) == []
    assert names(credential_list_for_user(owner, search="G")) == ["gh"]


def test_lists_never_load_or_decrypt_the_ciphertext(owner, estate, django_assert_num_queries):
    permission_ids()  # read once per process (config/caches.py), not per list
    with mock.patch.object(KeyRing, "open") as opened, django_assert_num_queries(1):
        rows = list(credential_list_for_user(owner))
        assert all("ciphertext" in row.get_deferred_fields() for row in rows)
        assert [r.type.slug for r in rows] and [r.owner.username for r in rows]
    opened.assert_not_called()


def test_get_for_user_answers_not_found_for_hidden_and_missing(owner, stranger, estate):
    assert credential_get_for_user(owner, credential_id=estate["mine"].pk) == estate["mine"]
    for user, credential_id in ((stranger, estate["mine"].pk), (owner, "nonsense"), (owner, estate["theirs"].pk)):
        with pytest.raises(CredentialNotFound):
            credential_get_for_user(user, credential_id=credential_id)


def test_get_by_name_and_environment(owner, stranger, estate):
    assert credential_get_by_name_for_user(owner, name="GH") == estate["mine"]
    assert credential_get_by_name_for_user(owner, name="db", environment="staging") == estate["mine_staging"]
    with pytest.raises(CredentialNotFound):
        credential_get_by_name_for_user(stranger, name="gh")
