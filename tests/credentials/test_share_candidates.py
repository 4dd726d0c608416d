"""The share pickers' search: by prefix, active users and groups, ten at most, only for those who may share."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from credentials.share_candidates import MAX_CANDIDATES, share_candidates
from credentials.sharing import credential_share
from credentials.teams import team_set_manager
from tests.factories import make_credential, make_user

URL = "/api/share-candidates/"


@pytest.fixture
def sharer(owner):
    make_credential(owner, "github_pat", name="something-to-share")
    return owner


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def names(found) -> list[tuple[str, str]]:
    return [(candidate.kind, candidate.name) for candidate in found]


def test_users_then_groups_whose_names_start_with_the_prefix_case_aside(sharer):
    make_user("frida", first_name="Frida", last_name="Kahlo")
    make_user("Fred")
    make_user("alfred")  # contains "fr", does not start with it
    make_user("frank", is_active=False)
    Group.objects.create(name="frontend")
    Group.objects.create(name="ops")
    found = share_candidates(sharer, prefix="FR")
    assert names(found) == [("user", "Fred"), ("user", "frida"), ("group", "frontend")]
    assert found[1].full_name == "Frida Kahlo" and found[2].full_name == ""
    assert names(share_candidates(sharer, prefix="fr", kinds=("group",))) == [("group", "frontend")]


def test_the_caller_is_not_offered_and_at_most_ten_come_back(sharer):
    for n in range(12):
        make_user(f"teammate-{n:02}")
    Group.objects.create(name="team-z")
    found = share_candidates(sharer, prefix="te")
    assert len(found) == MAX_CANDIDATES and all(candidate.kind == "user" for candidate in found)
    assert sharer.username not in [c.name for c in share_candidates(sharer, prefix=sharer.username[:3])]


def test_a_percent_or_underscore_in_the_prefix_is_a_character_not_a_wildcard(sharer):
    make_user("a_b")
    make_user("axb")
    assert names(share_candidates(sharer, prefix="a_")) == [("user", "a_b")]
    assert share_candidates(sharer, prefix="%%") == []


def test_the_answer_takes_a_constant_number_of_queries(sharer):
    for n in range(15):
        make_user(f"many-{n}")
        Group.objects.create(name=f"many-group-{n}")
    with CaptureQueriesContext(connection) as users_and_groups:
        share_candidates(sharer, prefix="ma")
    assert len(users_and_groups) == 2  # owns a credential (exists), the users; the ten are all users
    with CaptureQueriesContext(connection) as both:
        share_candidates(sharer, prefix="no-such")
    assert len(both) == 3  # exists, users, groups


def test_the_api_answers_those_who_may_share(sharer, superuser):
    make_user("friend")
    response = api(sharer).get(URL, {"q": "fri"})
    assert response.status_code == 200
    assert response.json() == {"results": [{"kind": "user", "name": "friend", "full_name": ""}]}
    assert api(superuser).get(URL, {"q": "fri", "kind": "user"}).status_code == 200


def test_a_team_manager_who_owns_nothing_may_search(superuser):
    team = Group.objects.create(name="platform")
    manager = make_user("lead")
    team_set_manager(actor=superuser, team=team, user=manager, is_manager=True)
    found = api(manager).get(URL, {"q": "pl"}).json()["results"]
    assert found == [{"kind": "group", "name": "platform", "full_name": ""}]


def test_those_who_may_share_nothing_are_refused(owner, stranger):
    shared_with = make_user("only-shared-with")
    credential = make_credential(owner, "github_pat")
    credential_share(actor=owner, credential_id=credential.pk, user=shared_with, permissions=["use", "view", "change"])
    for user in (stranger, shared_with):
        response = api(user).get(URL, {"q": "ow"})
        assert response.status_code == 403 and "results" not in response.json()
    assert APIClient().get(URL, {"q": "ow"}).status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "q"),
        ({"q": "f"}, "q"),
        ({"q": " f "}, "q"),  # trimmed first
        ({"q": "x" * 151}, "q"),
        ({"q": "fr", "kind": "robot"}, "kind"),
    ],
)
def test_bad_searches_are_refused_by_field(sharer, query, field):
    response = api(sharer).get(URL, query)
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]


def test_the_search_is_rate_limited_per_user(sharer, settings):
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["share_candidates"].split("/")[0])
    client = api(sharer)
    for _ in range(limit):
        assert client.get(URL, {"q": "ab"}).status_code == 200
    throttled = client.get(URL, {"q": "ab"})
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"


@pytest.mark.parametrize(
    ("queryset", "index"),
    [
        ("users", "latchkey_user_active_username_prefix"),
        ("groups", "latchkey_group_name_prefix"),
    ],
)
def test_postgresql_answers_a_prefix_from_its_index(postgres_only, sharer, queryset, index):
    query = {
        "users": get_user_model().objects.filter(is_active=True, username__istartswith="fr"),
        "groups": Group.objects.filter(name__istartswith="fr"),
    }[queryset]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a handful of rows would be scanned otherwise
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan
