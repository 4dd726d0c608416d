"""Time-bound access in a real browser: a member asks for use, the owner approves, the share page shows its end."""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from credentials.access.services import credential_set_requestable
from credentials.models import AccessRequest
from tests.factories import make_credential, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def signed_in_page(browser, base: str, user, screens):
    """A page in its own browser context holding a session for ``user``, as Django's test client makes one."""
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    name = django_settings.SESSION_COOKIE_NAME
    context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": base}])
    page = context.new_page()
    screens.watch(page)
    return page


def test_a_member_asks_the_owner_approves_and_the_grant_shows_its_end(browser, live_server, screens):
    base = live_server.url
    owner, member = make_user("olivia"), make_user("max")
    contractors = member.groups.create(name="contractors")
    credential = make_credential(owner, "github_pat", name="deploy-token", description="Deploys the shop")
    credential_set_requestable(actor=owner, credential_id=credential.pk, group=contractors, max_access_hours=24)

    asker = signed_in_page(browser, base, member, screens)
    asker.goto(f"{base}/")
    asker.get_by_role("navigation", name="Main").get_by_role("link", name="Request access").click()
    asker.wait_for_url(f"{base}/access/")
    expect(asker.get_by_role("row", name=re.compile("deploy-token"))).to_contain_text("Deploys the shop")
    screens.shot(asker, "request access list")
    asker.get_by_role("link", name="Request access to deploy-token").click()
    expect(asker.get_by_text("At most 24")).to_be_visible()
    asker.get_by_label("For how many hours").fill("4")
    asker.get_by_label("Why").fill("Release night")
    screens.shot(asker, "request form")
    asker.get_by_role("button", name="Ask").click()
    asker.wait_for_url(f"{base}/access/requests/")
    expect(asker.locator(".message.success")).to_contain_text("Asked for use of deploy-token for 4 hours")
    expect(asker.get_by_role("row", name=re.compile("deploy-token"))).to_contain_text("Pending")
    screens.shot(asker, "my requests")

    approver = signed_in_page(browser, base, owner, screens)
    approver.goto(f"{base}/")
    approver.get_by_role("link", name="Review requests (1)").click()
    approver.wait_for_url(f"{base}/access/review/")
    expect(approver.get_by_role("row", name=re.compile("max"))).to_contain_text("Release night")
    screens.shot(approver, "review")
    approver.get_by_role("button", name="Approve max's request").click()
    expect(approver.locator(".message.success")).to_contain_text("Approved max's use of deploy-token")

    end = timezone.localtime(AccessRequest.objects.get().grant_expires_at)
    said = f"use until {end:%Y-%m-%d %H:%M %Z}"
    approver.goto(f"{base}/credentials/{credential.pk}/shares/")
    expect(approver.get_by_role("row", name=re.compile("max"))).to_contain_text(said)
    screens.shot(approver, "share page with the grant's end")

    asker.goto(f"{base}/access/requests/")
    expect(asker.get_by_role("row", name=re.compile("deploy-token"))).to_contain_text("Approved")
    assert screens.problems() == []
    asker.context.close()
    approver.context.close()
