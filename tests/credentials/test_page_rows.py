"""The list page's rows, written as SQL once per process, are the ORM's values() with the same flags."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist

from credentials.api.serializers import ROW_COLUMNS
from credentials.models import Credential
from credentials.page_rows import rows_with_flags
from credentials.permissions import FLAGS, grant_annotations
from credentials.sharing import credential_share
from credentials.teams import team_set_manager
from tests.factories import CLOCK_START, make_credential, make_user


def orm_rows(user, ids, columns=ROW_COLUMNS):
    columns = (*columns, *(flag for flag in FLAGS if flag not in columns))
    rows = Credential.objects.annotate(**grant_annotations(user)).filter(pk__in=ids).values(*columns)
    return {row["id"]: row for row in rows}


def by_id(rows):
    return {row["id"]: row for row in rows}


@pytest.fixture
def routes(owner, friend, ops, clock):
    """A credential for each way ``friend`` reaches one (and one each way they no longer do)."""
    superuser = make_user("root", is_superuser=True)
    readers, managed = Group.objects.create(name="readers"), Group.objects.create(name="managed")
    readers.user_set.add(friend)
    ops.user_set.add(owner, friend)
    managed.user_set.add(owner)
    team_set_manager(actor=superuser, team=managed, user=friend, is_manager=True)
    made = {
        "owned": make_credential(friend, "redis", name="owned"),
        "direct": make_credential(owner, "github_pat", name="direct"),
        "via-group": make_credential(owner, "http_bearer", name="via-group"),
        "team": make_credential(owner, "postgres", name="team", team=ops),
        "managed": make_credential(owner, "gitlab_pat", name="managed", team=managed),
        "both": make_credential(owner, "postgres", name="both", team=ops, description="shared and a team's"),
        "ended": make_credential(owner, "github_pat", name="ended"),
        "hidden": make_credential(owner, "redis", name="hidden", tags=["a", "b"]),
    }
    credential_share(actor=owner, credential_id=made["direct"].pk, user=friend, permissions=["view", "change"])
    credential_share(actor=owner, credential_id=made["via-group"].pk, group=readers, permissions=["use"])
    credential_share(actor=owner, credential_id=made["both"].pk, user=friend, permissions=["use"])
    credential_share(actor=owner, credential_id=made["both"].pk, group=readers, permissions=["use", "view"])
    ends = CLOCK_START + timedelta(hours=1)
    credential_share(actor=owner, credential_id=made["ended"].pk, user=friend, permissions=["use"], expires_at=ends)
    clock.move_to(ends + timedelta(seconds=1))
    return made


def test_the_rows_and_flags_are_the_orms(routes, friend):
    ids = [credential.pk for credential in routes.values()]
    got = by_id(rows_with_flags(friend, ids=ids, columns=ROW_COLUMNS))
    assert got == orm_rows(friend, ids)
    assert len(got) == len(routes)
    flags = {name: got[credential.pk] for name, credential in routes.items()}
    assert flags["direct"]["_grant_view"] and flags["direct"]["_grant_change"] and not flags["direct"]["_grant_use"]
    assert flags["via-group"]["_grant_use"]
    assert flags["both"]["_grant_use"] and flags["both"]["_grant_view"] and flags["both"]["_team_member"]
    assert flags["managed"]["_team_manager"] and not flags["team"]["_team_manager"]
    assert not flags["ended"]["_grant_use"]  # its share ended an instant ago, by the application's clock
    assert not any(flags["hidden"][flag] for flag in ("_grant_use", "_grant_view", "_grant_change"))


def test_other_columns_and_a_foreign_keys_field(routes, owner):
    ids = [credential.pk for credential in routes.values()]
    columns = ("id", "name", "created_by__username", "updated_by_id", "team__name", "owner__username", "tags")
    assert by_id(rows_with_flags(owner, ids=ids, columns=columns)) == orm_rows(owner, ids, columns)


def test_no_ids_no_query(friend, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rows_with_flags(friend, ids=[], columns=ROW_COLUMNS) == []


@pytest.mark.parametrize("column", ["owner__groups__name", "ciphertext__x", "not_a_field"])
def test_a_column_it_cannot_read_is_refused(friend, credential, column):
    with pytest.raises((ValueError, FieldDoesNotExist)):
        rows_with_flags(friend, ids=[credential.pk], columns=("id", column))
