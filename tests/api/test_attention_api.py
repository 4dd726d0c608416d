"""GET /api/credentials/attention/: counts per section, a page of list rows, bad parameters as 400 by field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from credentials.models import Credential
from credentials.sharing import credential_share
from tests.factories import make_credential, make_user

URL = "/api/credentials/attention/"


@pytest.fixture
def troubles(owner, settings):
    settings.CREDENTIAL_TEST_FLAG_AFTER = 3
    now = timezone.now()
    made = {name: make_credential(owner, name=name) for name in ("untested", "expired", "failing", "fine")}
    Credential.objects.filter(pk=made["expired"].pk).update(
        expires_at=now - timedelta(days=1), test_status="passed", last_tested=now
    )
    Credential.objects.filter(pk=made["failing"].pk).update(test_status="failed", test_failures=5, last_tested=now)
    Credential.objects.filter(pk=made["fine"].pk).update(test_status="passed", last_tested=now)
    return made


def test_counts_and_rows_shaped_like_the_list(api_client, troubles):
    response = api_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {
        "expired": 1, "expiring": 0, "failing": 1, "flagged": 1, "never_tested": 1, "unused": 0,
    }  # fmt: skip
    assert body["count"] == 3 and body["next"] is None
    rows = {row["name"]: row for row in body["results"]}
    assert list(rows) == ["expired", "failing", "untested"]  # by name without a section
    assert rows["failing"]["attention"] == ["failing", "flagged"]
    assert rows["expired"]["attention"] == ["expired"] and rows["expired"]["is_expired"] is True
    assert rows["untested"]["last_used_at"] is None
    listed = {row["id"]: row for row in api_client.get("/api/credentials/").json()["results"]}
    for row in body["results"]:  # the list's row, with two keys more
        extra = {key: row.pop(key) for key in ("attention", "last_used_at")}
        assert extra and row == listed[row["id"]]


def test_a_section_its_order_and_the_windows(api_client, owner, troubles):
    soon = make_credential(owner, name="soon", expires_at=timezone.now() + timedelta(days=40))

    narrow = api_client.get(URL, {"section": "expiring"}).json()
    wide = api_client.get(URL, {"section": "expiring", "days": 60}).json()
    newest_first = api_client.get(URL, {"ordering": "-created_at"}).json()

    assert narrow["results"] == [] and narrow["counts"]["expiring"] == 0
    assert [row["id"] for row in wide["results"]] == [str(soon.pk)] and wide["counts"]["expiring"] == 1
    assert newest_first["results"][0]["name"] == "soon"


def test_pages_carry_the_counts(api_client, owner, troubles):
    for index in range(4):
        make_credential(owner, name=f"more-{index}")

    first = api_client.get(URL, {"section": "never_tested", "page_size": 2}).json()
    last = api_client.get(URL, {"section": "never_tested", "page_size": 2, "page": 3}).json()

    assert first["count"] == 5 and len(first["results"]) == 2 and first["next"]
    assert len(last["results"]) == 1 and last["counts"] == first["counts"]
    assert api_client.get(URL, {"page": 99}).status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 3651}, "days"),
        ({"days": "soon"}, "days"),
        ({"unused_days": 0}, "unused_days"),
        ({"unused_days": "9" * 2000}, "unused_days"),
        ({"section": "ciphertext"}, "section"),
        ({"section": ""}, "section"),
        ({"ordering": "ciphertext"}, "ordering"),
        ({"page_size": 0}, "page_size"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(api_client, troubles, query, field):
    response = api_client.get(URL, query)

    assert response.status_code == 400, response.content[:300]
    assert list(response.json()["errors"]) == [field]


def test_a_user_sees_only_what_they_may_see(owner, troubles):
    viewer, stranger = make_user("viewer"), make_user("stranger")
    credential_share(actor=owner, credential_id=troubles["failing"].pk, permissions=["view"], user=viewer)
    as_viewer, as_stranger, anonymous = APIClient(), APIClient(), APIClient()
    as_viewer.force_authenticate(viewer)
    as_stranger.force_authenticate(stranger)

    seen = as_viewer.get(URL).json()
    unseen = as_stranger.get(URL).json()

    assert [row["name"] for row in seen["results"]] == ["failing"]
    assert seen["results"][0]["permissions"] == ["view"]
    assert seen["counts"] == {"expired": 0, "expiring": 0, "failing": 1, "flagged": 1, "never_tested": 0, "unused": 0}
    assert unseen["results"] == [] and set(unseen["counts"].values()) == {0}
    assert anonymous.get(URL).status_code == 401


def test_the_same_queries_for_few_rows_or_many(api_client, owner, troubles):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api_client.get(URL).status_code == 200
        return len(captured)

    queries()  # the first request reads what the process keeps (config/caches.py)
    few = queries()
    for index in range(30):
        make_credential(owner, name=f"token-{index}")
    assert queries() == few
