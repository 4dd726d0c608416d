"""The "Needs attention" page with Django's client: counts, filters, sorting, pages, bad input, who sees what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from credentials.models import Credential
from tests.factories import make_credential, make_user
from tests.pages.conftest import client_for

pytestmark = pytest.mark.django_db

URL = "/attention/"


@pytest.fixture
def troubles(owner, credential, settings):
    """``credential`` (orders-db) never tested; one expired; one failing four times in a row."""
    settings.CREDENTIAL_TEST_FLAG_AFTER = 3
    now = timezone.now()
    expired = make_credential(owner, name="old-token")
    failing = make_credential(owner, name="broken-token")
    Credential.objects.filter(pk=expired.pk).update(
        expires_at=now - timedelta(days=2), test_status="passed", last_tested=now
    )
    Credential.objects.filter(pk=failing.pk).update(test_status="failed", test_failures=4, last_tested=now)
    return {"expired": expired, "failing": failing}


def counts_of(response) -> dict[str, int]:
    return {entry["section"]: entry["count"] for entry in response.context["counts"]}


def listed(response) -> list[str]:
    return [row["credential"].name for row in response.context["rows"]]


def test_the_page_asks_for_a_login_and_is_in_the_navigation(client, owner_client):
    assert reverse("credentials:attention") == URL
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert f'href="{URL}"' in owner_client.get(reverse("credentials:list")).content.decode()


def test_counts_at_the_top_link_to_their_section(owner_client, troubles):
    response = owner_client.get(URL)

    assert response.status_code == 200
    assert counts_of(response) == {
        "expired": 1, "expiring": 0, "failing": 1, "flagged": 1, "never_tested": 1, "unused": 0,
    }  # fmt: skip
    assert sorted(listed(response)) == ["broken-token", "old-token", "orders-db"]
    html = response.content.decode()
    assert 'href="?days=30&amp;unused_days=90&amp;section=flagged"' in html
    assert "Expiring within 30 days" in html and "Unused for 90 days" in html
    assert "flagged: 3 times or more in a row" in html
    assert "<script" not in html.split("</head>")[1]  # no inline script: the CSP forbids it


def test_a_section_filters_the_list_and_says_why(owner_client, troubles):
    response = owner_client.get(URL, {"section": "failing"})

    assert listed(response) == ["broken-token"]
    assert [reason["section"] for reason in response.context["rows"][0]["reasons"]] == ["failing", "flagged"]
    assert 'aria-current="page"><span class="count">1</span> Failing</a>' in response.content.decode()


def test_sorting_and_the_windows(owner_client, owner, troubles):
    make_credential(owner, name="aardvark")  # never tested too

    by_name = owner_client.get(URL, {"order": "name"})
    backwards = owner_client.get(URL, {"order": "-name"})
    wide = owner_client.get(URL, {"days": "3650", "unused_days": "1", "section": "expiring"})

    assert listed(by_name) == ["aardvark", "broken-token", "old-token", "orders-db"]
    assert listed(backwards) == list(reversed(listed(by_name)))
    assert wide.status_code == 200 and listed(wide) == [] and "Expiring within 3650 days" in wide.content.decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"days": "0"}, "days"),
        ({"days": "3651"}, "days"),
        ({"unused_days": "99999999999999999999"}, "unused_days"),
        ({"unused_days": "soon"}, "unused_days"),
        ({"section": "ciphertext"}, "section"),
        ({"order": "ciphertext"}, "order"),
    ],
)
def test_bad_input_is_named_beside_its_field_and_nothing_is_listed(owner_client, troubles, query, field):
    response = owner_client.get(URL, query)

    assert response.status_code == 200
    assert set(response.context["filters"].errors) == {field}
    assert "rows" not in response.context and "counts" not in response.context
    assert "Correct the filters above" in response.content.decode()


def test_a_user_sees_only_what_is_shared_with_them(owner, troubles, user_with_view):
    stranger = make_user("nobody-shared")

    viewer = client_for(user_with_view).get(URL)
    outsider = client_for(stranger).get(URL)

    assert listed(viewer) == ["orders-db"] and counts_of(viewer)["never_tested"] == 1
    assert counts_of(viewer)["expired"] == 0 and "old-token" not in viewer.content.decode()
    assert listed(outsider) == [] and set(counts_of(outsider).values()) == {0}
    assert "Nothing here needs attention." in outsider.content.decode()


def test_pages_of_fifty_and_the_same_queries_for_few_rows_or_many(owner_client, owner):
    def queries(query: dict[str, str] | None = None) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(URL, query or {}).status_code == 200
        return len(captured)

    for index in range(3):
        make_credential(owner, name=f"token-{index:02d}")
    queries()  # the first request reads what the process keeps (config/caches.py)
    few = queries()
    for index in range(3, 55):
        make_credential(owner, name=f"token-{index:02d}")
    assert queries() == few

    first = owner_client.get(URL, {"order": "name"})
    second = owner_client.get(URL, {"order": "name", "page": "2"})
    assert len(listed(first)) == 50 and listed(second) == ["token-50", "token-51", "token-52", "token-53", "token-54"]
    assert 'href="?days=30&amp;unused_days=90&amp;order=name&amp;page=2"' in first.content.decode()
    assert owner_client.get(URL, {"page": "9" * 5000}).status_code == 200
