"""The "needs attention" selector: each section, counts that match the rows, only what the caller may see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from credentials import attention
from credentials.models import Credential
from credentials.permissions import actions_for
from credentials.selectors import ATTENTION_FLAGS, credentials_needing_attention_for_user
from credentials.services import credential_update
from credentials.sharing import credential_share
from credentials.testers.report import credential_report
from credentials.testers.runs import is_flagged
from tests.factories import make_credential, make_user, reveal

WINDOWS = {"days": 30, "unused_days": 90}


def _set(credential: Credential, **values) -> None:
    Credential.objects.filter(pk=credential.pk).update(**values)


@pytest.fixture
def population(owner, settings):
    """One credential per section (and some in none) for ``owner``; names say where each belongs."""
    settings.CREDENTIAL_TEST_FLAG_AFTER = 3
    now = timezone.now()
    made = {
        name: make_credential(owner, name=name)
        for name in (
            "expired", "soon", "later", "failing", "flagged", "untested", "fine", "old-unused", "old-used",
            "switched-off",
        )
    }  # fmt: skip
    reveal(owner, made["fine"])
    reveal(owner, made["old-used"])
    tested = {"test_status": "passed", "last_tested": now}
    _set(made["expired"], expires_at=now - timedelta(days=1), **tested)
    _set(made["soon"], expires_at=now + timedelta(days=5), **tested)
    _set(made["later"], expires_at=now + timedelta(days=60), **tested)
    _set(made["failing"], test_status="failed", test_failures=1, last_tested=now)
    _set(made["flagged"], test_status="failed", test_failures=4, last_tested=now)
    _set(made["fine"], **tested)
    _set(made["old-unused"], created_at=now - timedelta(days=200), **tested)
    _set(made["old-used"], created_at=now - timedelta(days=200), **tested)
    credential_update(actor=owner, credential_id=made["switched-off"].pk, changes={"is_active": False})
    _set(made["switched-off"], expires_at=now - timedelta(days=1), created_at=now - timedelta(days=200))
    return made


def names(rows) -> list[str]:
    return [row.name for row in rows]


EXPECTED = {
    "expired": ["expired"],
    "expiring": ["soon"],
    "failing": ["flagged", "failing"],  # most failures in a row first
    "flagged": ["flagged"],
    "never_tested": ["untested"],
    "unused": ["old-unused"],
}


@pytest.mark.parametrize("section", attention.SECTIONS)
def test_each_section_holds_its_credentials_and_its_count_matches(owner, population, section):
    found = credentials_needing_attention_for_user(owner, section=section, **WINDOWS)

    assert names(found.rows) == EXPECTED[section]
    assert found.counts == {name: len(rows) for name, rows in EXPECTED.items()}
    for row in found.rows:
        assert getattr(row, ATTENTION_FLAGS[section]) is True


def test_without_a_section_every_credential_needing_attention_is_listed_once_with_its_reasons(owner, population):
    found = credentials_needing_attention_for_user(owner, **WINDOWS)

    rows = list(found.rows)
    assert names(rows) == sorted({name for listed in EXPECTED.values() for name in listed})
    reasons = {row.name: [s for s in attention.SECTIONS if getattr(row, ATTENTION_FLAGS[s])] for row in rows}
    assert reasons["flagged"] == ["failing", "flagged"]
    assert reasons["expired"] == ["expired"]
    assert "switched-off" not in reasons and "fine" not in reasons and "later" not in reasons


def test_a_wider_window_takes_later_expiries(owner, population):
    found = credentials_needing_attention_for_user(owner, section="expiring", days=90, unused_days=90)
    assert names(found.rows) == ["soon", "later"] and found.counts["expiring"] == 2


def test_unused_means_no_reveal_within_the_window(owner, population):
    now = timezone.now()
    revealed_today = population["old-used"]
    assert revealed_today.name not in names(
        credentials_needing_attention_for_user(owner, section="unused", **WINDOWS).rows
    )

    # A hundred days on, the reveal of today is outside a 90-day window and inside a 120-day one.
    later = now + timedelta(days=100)
    ninety = credentials_needing_attention_for_user(owner, section="unused", days=30, unused_days=90, now=later)
    hundred_twenty = credentials_needing_attention_for_user(
        owner, section="unused", days=30, unused_days=120, now=later
    )

    assert {"old-used", "old-unused", "fine"} <= set(names(ninety.rows))
    assert "old-used" not in names(hundred_twenty.rows) and "fine" not in names(hundred_twenty.rows)
    assert "old-unused" in names(hundred_twenty.rows)
    # Made less than the window ago and never revealed: not unused yet.
    assert "untested" not in names(hundred_twenty.rows)
    row = next(row for row in ninety.rows if row.name == "old-used")
    assert row.last_used_at is not None and row.last_used_at <= now


def test_a_credential_shared_for_view_only_appears_for_that_user_and_a_hidden_one_never(owner, population):
    viewer = make_user("viewer")
    bystander = make_user("bystander")
    credential_share(actor=owner, credential_id=population["flagged"].pk, permissions=["view"], user=viewer)

    seen = credentials_needing_attention_for_user(viewer, **WINDOWS)
    unseen = credentials_needing_attention_for_user(bystander, **WINDOWS)

    assert names(seen.rows) == ["flagged"]
    assert seen.counts == {"expired": 0, "expiring": 0, "failing": 1, "flagged": 1, "never_tested": 0, "unused": 0}
    assert actions_for(viewer, next(iter(seen.rows))) == ["view"]
    assert names(unseen.rows) == [] and set(unseen.counts.values()) == {0}
    for section in attention.SECTIONS:
        assert names(credentials_needing_attention_for_user(bystander, section=section, **WINDOWS).rows) == []


def test_a_visitor_who_is_not_signed_in_sees_nothing(population):
    from django.contrib.auth.models import AnonymousUser

    found = credentials_needing_attention_for_user(AnonymousUser(), **WINDOWS)
    assert list(found.rows) == [] and set(found.counts.values()) == {0}


def test_the_query_count_does_not_grow_with_the_rows_and_no_ciphertext_is_read(
    owner, population, django_assert_num_queries
):
    def run() -> int:
        found = credentials_needing_attention_for_user(owner, **WINDOWS)  # the counts: one query
        rows = list(found.rows)  # the rows: one more
        for row in rows:
            actions_for(owner, row)
            row.type.name, row.owner.username  # noqa: B018 -- joined, not fetched row by row
        return len(rows)

    few = run()  # the first run reads what the process keeps (config/caches.py: the permission ids)
    with django_assert_num_queries(2):
        assert run() == few
    for index in range(15):
        make_credential(owner, name=f"more-untested-{index}")
    with django_assert_num_queries(2) as captured:
        assert run() == few + 15
    assert not any("ciphertext" in query["sql"] for query in captured.captured_queries)  # lists never read it


@pytest.mark.parametrize("order", list(attention.ORDERINGS))
def test_every_order_sorts(owner, population, order):
    rows = list(credentials_needing_attention_for_user(owner, order=order, **WINDOWS).rows)
    assert len(rows) == 6
    if order == "-test_failures":
        assert names(rows)[:2] == ["flagged", "failing"]
    if order == "name":
        assert names(rows) == sorted(names(rows))


@pytest.mark.parametrize(
    "arguments",
    [
        {"days": 0, "unused_days": 90},
        {"days": attention.MAX_DAYS + 1, "unused_days": 90},
        {"days": 30, "unused_days": 0},
        {"days": 30, "unused_days": attention.MAX_DAYS + 1},
        {"days": 30, "unused_days": 90, "section": "lost"},
        {"days": 30, "unused_days": 90, "order": "ciphertext"},
    ],
)
def test_windows_beyond_the_ceilings_and_unknown_names_are_refused(owner, arguments):
    with pytest.raises(ValueError):
        credentials_needing_attention_for_user(owner, **arguments)


def test_the_report_and_the_selector_share_one_definition_of_each_section(owner, population, superuser):
    report = credential_report(days=30)
    mine = credentials_needing_attention_for_user(superuser, **WINDOWS)

    for section in ("expired", "expiring", "failing", "never_tested"):
        assert [row["name"] for row in report[section]] == EXPECTED[section]
        assert mine.counts[section] == len(report[section])
    assert all(row["flagged"] == is_flagged(row["test_failures"]) for row in report["failing"])


def test_flagged_follows_the_setting(owner, population, settings):
    settings.CREDENTIAL_TEST_FLAG_AFTER = 1
    found = credentials_needing_attention_for_user(owner, section="flagged", **WINDOWS)
    assert names(found.rows) == ["flagged", "failing"]
