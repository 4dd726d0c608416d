"""The admin at a laptop's width: the credential list fits 1,280 px, and a credential's sharing page with its picker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from credentials.sharing import credential_share
from tests.browser.session import admin_log_in
from tests.factories import make_credential, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

LAPTOP = {"width": 1280, "height": 800}


def test_the_credential_list_fits_1280_px_and_sharing_has_one_page(browser, live_server, screens):
    base = live_server.url
    make_user("root", is_staff=True, is_superuser=True)
    owner = make_user("platform-engineering-owner")
    team = Group.objects.create(name="platform-engineering")
    owner.groups.add(team)
    soon = timezone.now() + timedelta(days=30)
    for slug in ("github_pat", "gitlab_pat", "redis", "postgres"):
        name = f"{slug}-production-deploy-credential"
        make_credential(owner, slug, name=name, team=team, environment="production", expires_at=soon)
    shared = make_credential(owner, "github_pat", name="shared-token")
    credential_share(actor=owner, credential_id=shared.pk, user=make_user("friend"), permissions=["use", "view"])

    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    screens.watch(page)
    admin_log_in(page, base, "root")
    page.goto(f"{base}/admin/credentials/credential/")
    # Nothing scrolls: not the page, and not the table inside its box (the admin lets it scroll there).
    widths = page.evaluate(
        """() => {
            const results = document.querySelector("#changelist-form .results");
            const table = document.querySelector("#result_list");
            const status = document.querySelector("#result_list th.column-test_status").getBoundingClientRect();
            return {
                page: document.documentElement.scrollWidth,
                box: results.clientWidth,
                table: table.scrollWidth,
                boxRight: results.getBoundingClientRect().right,
                statusRight: status.right,
            };
        }"""
    )
    assert widths["page"] <= LAPTOP["width"], widths
    assert widths["table"] <= widths["box"], widths
    assert widths["statusRight"] <= min(widths["boxRight"], LAPTOP["width"]), widths
    assert page.locator("#result_list th.column-test_status").is_visible()
    screens.shot(page, "admin list at 1280")

    page.goto(f"{base}/admin/credentials/credential/{shared.pk}/change/")
    assert page.get_by_role("link", name="Object permissions").count() == 0
    page.get_by_role("link", name="Sharing").click()
    page.wait_for_load_state()  # the picker's script has run
    assert page.get_by_text("User friend").is_visible()
    # The group input offers the groups whose names start with what is typed (share_picker.js, the API).
    with page.expect_response(lambda response: "/api/share-candidates/" in response.url) as searched:
        page.locator("#id_group").press_sequentially("plat")
    assert searched.value.status == 200, searched.value.text()
    page.locator('#id_group_candidates option[value="platform-engineering"]').wait_for(state="attached")
    page.locator("#id_group").fill("")
    page.locator("#id_user").fill("platform-engineering-owner")
    page.get_by_role("button", name="Share", exact=True).click()
    assert page.get_by_text("The owner already holds every permission.").is_visible()
    page.get_by_role("button", name="Remove friend").click()
    assert page.get_by_text("friend no longer has access.").is_visible()
    screens.shot(page, "admin sharing page")
    html = page.content()
    assert "Can add" not in html and "USERNAME_FIELD" not in html
    assert screens.problems() == []
    context.close()
