"""The account pages in a real browser: make a named API token, copy it once, use it, revoke it; change the password."""

from __future__ import annotations

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.browser.session import PHONE, log_in
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def api_status(token: str) -> int:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api.get("/api/credentials/").status_code


def test_a_user_makes_copies_uses_and_revokes_a_token_in_the_browser(browser, live_server, screens):
    make_user("dana")
    base = live_server.url
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    screens.watch(page)
    log_in(page, base, "dana")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    page.wait_for_url(f"{base}/accounts/tokens/")
    assert page.get_by_text("You have no live tokens.").is_visible()
    screens.shot(page, "no tokens")

    page.locator("#id_name").fill("CI deploys")
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("heading", name="Token “CI deploys” created").wait_for()
    token = page.get_by_label("Your token").input_value()
    assert token.startswith("lk_")
    page.get_by_role("button", name="Copy").click()  # shown once the script runs
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == token
    screens.shot(page, "token created")
    assert api_status(token) == 200

    page.get_by_role("link", name="Back to your tokens").click()
    row = page.get_by_role("row", name="CI deploys")
    assert token not in page.content()
    assert AuthToken.objects.get().token_key in row.inner_text()
    page.set_viewport_size(PHONE)
    screens.shot(page, "tokens on a phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    row.get_by_role("button", name="Revoke CI deploys").click()
    page.get_by_text("revoked: it no longer authenticates").wait_for()
    screens.shot(page, "token revoked")
    assert api_status(token) == 401

    page.get_by_role("navigation", name="Account").get_by_role("link", name="Change password").click()
    page.locator("#id_old_password").fill(PASSWORD)
    page.locator("#id_new_password1").fill("a-much-longer-passphrase-9183")
    page.locator("#id_new_password2").fill("a-much-longer-passphrase-9183")
    screens.shot(page, "password change")
    page.get_by_role("button", name="Change password").click()
    page.get_by_role("heading", name="Password changed").wait_for()
    screens.shot(page, "password changed")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="API docs").click()
    page.get_by_text("/api/credentials/").first.wait_for()
    assert screens.problems() == []
    context.close()
