"""The "Needs attention" page in a real browser: reached from the navigation, counts as links, filters, sorting."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from credentials.models import Credential
from credentials.sharing import credential_share
from tests.browser.session import PHONE
from tests.factories import make_credential, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def signed_in(context, base: str, user) -> None:
    """Give the browser a session for ``user``, as Django's test client makes one."""
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": base}])


def test_users_find_what_needs_attention_in_the_browser(browser, live_server, screens, settings):
    settings.CREDENTIAL_TEST_FLAG_AFTER = 3
    base = live_server.url
    alice, bob = make_user("alice"), make_user("bob")
    now = timezone.now()
    expired = make_credential(alice, name="old-token")
    failing = make_credential(alice, name="broken-db", type_slug="postgres")
    make_credential(alice, name="new-key")  # never tested
    hidden = make_credential(bob, name="bobs-secret-thing")  # bob's, not shared: alice never sees it
    shared = make_credential(bob, name="bobs-shared-token")
    credential_share(actor=bob, credential_id=shared.pk, permissions=["view"], user=alice)
    Credential.objects.filter(pk=expired.pk).update(
        expires_at=now - timedelta(days=3), test_status="passed", last_tested=now
    )
    Credential.objects.filter(pk=failing.pk).update(test_status="failed", test_failures=5, last_tested=now)
    Credential.objects.filter(pk=hidden.pk).update(test_status="failed", test_failures=9, last_tested=now)

    context = browser.new_context()
    signed_in(context, base, alice)  # the login form has its own browser test (test_site.py)
    page = context.new_page()
    screens.watch(page)
    page.goto(f"{base}/")

    page.get_by_role("link", name="Needs attention").click()
    page.wait_for_url(f"{base}/attention/")
    expect(page.get_by_role("heading", name="Needs attention")).to_be_visible()
    sections = page.get_by_role("navigation", name="Sections")
    expect(sections.get_by_role("link", name="1 Expired")).to_be_visible()
    expect(sections.get_by_role("link", name="1 Failing", exact=True)).to_be_visible()
    expect(sections.get_by_role("link", name="2 Never tested")).to_be_visible()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(4)
    assert "bobs-secret-thing" not in page.content()
    screens.shot(page, "needs attention")

    # A count is a link to its section.
    sections.get_by_role("link", name=re.compile("Flagged")).click()
    page.wait_for_url(re.compile(r"section=flagged"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("broken-db")
    expect(rows.first).to_contain_text("5 failures in a row")
    screens.shot(page, "flagged only")

    # Filters and sorting: every section, sorted Z to A.
    page.get_by_label("Section", exact=True).select_option("")
    page.get_by_label("Sort by").select_option("-name")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"order=-name"))
    names = [name.strip() for name in page.locator("table.list tbody th").all_inner_texts()]
    assert names == ["old-token", "new-key", "broken-db", "bobs-shared-token"]

    # A window beyond the ceiling: the input's max keeps the browser from sending it; sent anyway
    # (a hand-made address), it is named beside its field, and nothing is listed.
    assert page.get_by_label("Expiring within (days)").get_attribute("max") == "3650"
    page.goto(f"{base}/attention/?days=5000")
    expect(page.locator("#id_days_error, .errorlist").first).to_contain_text("less than or equal to 3650")
    expect(rows).to_have_count(0)
    screens.shot(page, "a window too wide")

    page.set_viewport_size(PHONE)
    page.goto(f"{base}/attention/")
    screens.shot(page, "needs attention on a phone")

    assert screens.problems() == []
    context.close()
