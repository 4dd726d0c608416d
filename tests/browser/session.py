"""Signing in and out in the browser tests, on the site and in the admin, and what every page must not show."""

from __future__ import annotations

import re

from tests.factories import PASSWORD

PHONE = {"width": 390, "height": 844}


def log_in(page, base_url: str, username: str) -> None:
    """The site's login form, by its labels, submitted from the keyboard."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")
    page.wait_for_url(f"{base_url}/")


def admin_log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/$"))


def assert_no_secret(page, secrets: set[str]) -> None:
    html = page.content()
    for secret in secrets:
        # A private key by each line of its body (its BEGIN line is the input's placeholder).
        for line in secret.splitlines():
            if len(line) > 8 and not line.startswith("-----"):
                assert line not in html, f"a secret is on {page.url}"
