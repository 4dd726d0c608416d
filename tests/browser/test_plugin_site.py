"""The plugin pages in a real browser, against a real git server: register, sync, edit, delete, never a secret.

The HTTPS git server is the integration tests' (git http-backend over TLS on loopback, one token);
tasks run in-process in the live server's thread, so each clone is over when its page answers.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from credentials.services import credential_create
from plugins.models import Plugin
from plugins.paths import checkout_path
from tests.browser.session import PHONE, log_in
from tests.factories import host_key_line, make_user, valid_fields
from tests.integration import conftest as integration

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

# The integration tests' git server fixtures, registered in this module (their conftest is not ours).
git_available = integration.git_available
git_https = integration.git_https

UUID_PATH = r"[0-9a-f-]{36}/$"
CLONE_WAIT = 30_000  # ms: a clone runs inside the request, but a busy page reloads itself until it ends


def fact(page, term: str):
    """The <dd> beside a <dt> of the detail page's facts."""
    return page.locator("dl.facts dt", has_text=re.compile(f"^{term}$")).locator("xpath=following-sibling::dd[1]")


def sync(page, detail_url: str) -> None:
    """Press Sync; its answer redirects to the page it was pressed on, so the navigation is awaited."""
    with page.expect_navigation(url=detail_url):
        page.get_by_role("button", name="Sync").click()


def assert_no_token(page, token: str) -> None:
    assert token not in page.content(), f"the token is on {page.url}"


def test_users_register_sync_edit_and_delete_plugins_in_the_browser(
    browser, live_server, screens, settings, eager_tasks, git_https
):
    settings.PLUGINS_GIT_CA_FILE = str(git_https.ca_file)
    base = live_server.url
    token = git_https.token
    alice = make_user("alice")
    forge = credential_create(
        actor=alice,
        type_slug="github_pat",
        name="forge",
        fields={"token": token, "base_url": f"https://127.0.0.1:{git_https.server.port}"},
    )
    assert forge.allowed_hosts == ["127.0.0.1"]
    ssh_fields = {**valid_fields("ssh_key"), "host_keys": host_key_line("127.0.0.1")}
    deploy_key = credential_create(actor=alice, type_slug="ssh_key", name="deploy-key", fields=ssh_fields)
    database = credential_create(actor=alice, type_slug="postgres", name="orders-db", fields=valid_fields("postgres"))
    private_url = git_https.private_url
    port = git_https.server.port
    wrong_host_url = private_url.replace(f"https://127.0.0.1:{port}/", f"https://localhost:{port}/")
    assert wrong_host_url != private_url

    context = browser.new_context()
    page = context.new_page()
    screens.watch(page)

    # --- 1. from the menu to the register form ---------------------------------------------------------
    log_in(page, base, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plugins").click()
    page.wait_for_url(f"{base}/plugins/")
    expect(page.locator("p.empty")).to_contain_text("You have registered no plugins yet.")
    screens.shot(page, "empty plugin list")
    page.get_by_role("link", name="Register a plugin").click()
    page.wait_for_url(f"{base}/plugins/new/")
    screens.shot(page, "register form")

    # --- 2. the picker follows the URL (plugin_form.js) ------------------------------------------------
    picker = page.get_by_label("Credential", exact=True)
    url_input = page.get_by_label("Repository URL")
    token_option = picker.locator(f'option[value="{forge.pk}"]')
    ssh_option = picker.locator(f'option[value="{deploy_key.pk}"]')
    none_option = picker.locator('option[value="none"]')
    picker_status = page.locator("[data-field-row] p[role=status]")
    # The PostgreSQL password cannot clone: never offered, whatever the URL.
    expect(picker.locator(f'option[value="{database.pk}"]')).to_have_count(0)
    expect(token_option).to_have_count(1)
    expect(ssh_option).to_have_count(1)

    page.get_by_label("Name", exact=True).fill("private")
    url_input.fill(private_url)
    expect(token_option).to_have_js_property("hidden", False)
    expect(token_option).to_be_enabled()
    expect(ssh_option).to_have_js_property("hidden", True)
    expect(ssh_option).to_be_disabled()
    expect(none_option).to_have_js_property("hidden", False)
    expect(picker_status).to_have_text("1 of your credentials fits this URL.")
    screens.shot(page, "picker for an https url")

    url_input.fill("ssh://git@127.0.0.1:22/x.git")
    expect(token_option).to_have_js_property("hidden", True)
    expect(token_option).to_be_disabled()
    expect(ssh_option).to_have_js_property("hidden", False)
    expect(ssh_option).to_be_enabled()
    expect(none_option).to_have_js_property("hidden", True)  # a public repository only over HTTPS
    screens.shot(page, "picker for an ssh url")

    url_input.fill(private_url)
    expect(token_option).to_have_js_property("hidden", False)
    expect(ssh_option).to_have_js_property("hidden", True)

    # --- 3. a host the credential may not be sent to: refused by the server, beside the field -----------
    page.get_by_label("Ref").fill("v1")
    picker.select_option(str(forge.pk))
    # The script would withdraw the credential as soon as the host were typed; the server must refuse
    # it on its own, so the URL is changed without the input event (as autofill or a stale page would).
    url_input.evaluate("(input, value) => { input.value = value; }", wrong_host_url)
    # The answer is at the same address: wait for that navigation, not for the address.
    with page.expect_navigation(url=f"{base}/plugins/new/"):
        page.get_by_role("button", name="Register").click()
    error = page.locator("#id_repo_url_error")
    expect(error).to_contain_text("may only be sent to 127.0.0.1; 'localhost' is not among them.")
    assert "id_repo_url_error" in (url_input.get_attribute("aria-describedby") or "").split()
    expect(url_input).to_have_value(wrong_host_url)
    expect(page.get_by_label("Name", exact=True)).to_have_value("private")
    expect(page.get_by_label("Ref")).to_have_value("v1")
    expect(page.locator(".form-errors")).to_be_visible()
    assert Plugin.objects.count() == 0
    assert_no_token(page, token)
    screens.shot(page, "register refused wrong host")

    # The refused page withdraws what does not fit the refused URL (nothing here) but keeps it in the
    # page: correcting the URL there offers the token again.
    expect(token_option).to_be_disabled()
    expect(picker_status).to_have_text("0 of your credentials fit this URL.")

    # --- 4. registered with the tag v1: cloned, installed ------------------------------------------------
    url_input.fill(private_url)
    expect(token_option).to_be_enabled()
    expect(picker_status).to_have_text("1 of your credentials fits this URL.")
    picker.select_option(str(forge.pk))
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(re.compile(f"{base}/plugins/{UUID_PATH}"))
    private = Plugin.objects.get(name="private")
    assert page.url == f"{base}/plugins/{private.pk}/"
    badge = page.locator("p.lead .badge")
    expect(badge).to_have_text("Installed", timeout=CLONE_WAIT)
    expect(fact(page, "Commit")).to_have_text(git_https.private_refs["v1"])
    expect(fact(page, "Ref")).to_have_text("v1")
    expect(fact(page, "Credential")).to_contain_text("forge")
    expect(page.locator("ul.messages")).to_contain_text("registered")
    assert_no_token(page, token)
    screens.shot(page, "private plugin installed at v1")

    # --- 5. sync; edit the ref; sync again -----------------------------------------------------------
    sync(page, f"{base}/plugins/{private.pk}/")
    expect(badge).to_have_text("Installed", timeout=CLONE_WAIT)
    expect(fact(page, "Commit")).to_have_text(git_https.private_refs["v1"])
    assert_no_token(page, token)
    screens.shot(page, "synced at v1")

    page.get_by_role("link", name="Edit").click()
    page.wait_for_url(f"{base}/plugins/{private.pk}/edit/")
    expect(page.get_by_label("Ref")).to_have_value("v1")
    expect(page.get_by_label("Credential", exact=True)).to_have_value(str(forge.pk))
    assert_no_token(page, token)
    screens.shot(page, "edit form")
    page.get_by_label("Ref").fill("main")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{base}/plugins/{private.pk}/")
    expect(fact(page, "Ref")).to_have_text("main")
    sync(page, f"{base}/plugins/{private.pk}/")
    expect(badge).to_have_text("Installed", timeout=CLONE_WAIT)
    expect(fact(page, "Commit")).to_have_text(git_https.private_refs["main"])
    assert git_https.private_refs["main"] != git_https.private_refs["v1"]
    assert_no_token(page, token)
    screens.shot(page, "synced at main")

    # --- 6. a public repository, with no credential --------------------------------------------------
    page.goto(f"{base}/plugins/")
    page.get_by_role("link", name="Register a plugin").click()
    page.wait_for_url(f"{base}/plugins/new/")
    page.get_by_label("Name", exact=True).fill("open")
    url_input.fill(git_https.public_url)
    picker.select_option(label="None (public repository)")
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(re.compile(f"{base}/plugins/{UUID_PATH}"))
    expect(badge).to_have_text("Installed", timeout=CLONE_WAIT)
    expect(fact(page, "Commit")).to_have_text(git_https.public_refs["main"])
    expect(fact(page, "Credential")).to_have_text("None (public repository)")
    screens.shot(page, "public plugin installed")

    # --- 7. the credential knows its plugin, and refuses deletion while used -------------------------
    page.goto(f"{base}/credentials/{forge.pk}/")
    usage = page.locator("table", has=page.locator("caption", has_text="Plugins that clone with it"))
    expect(usage.get_by_role("link", name="private")).to_have_attribute("href", f"/plugins/{private.pk}/")
    expect(usage).not_to_contain_text("open")
    assert_no_token(page, token)
    screens.shot(page, "credential lists its plugin")
    page.goto(f"{base}/credentials/{forge.pk}/delete/")
    expect(page.locator("#in-use")).to_have_text("Plugins use it")
    expect(page.get_by_text("It cannot be deleted until these plugins are removed")).to_be_visible()
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    screens.shot(page, "credential delete refused while used")

    # --- 8. the private plugin deleted, with its checkout --------------------------------------------
    checkout = checkout_path(private.pk)
    assert checkout.is_dir()
    page.goto(f"{base}/plugins/{private.pk}/")
    page.get_by_role("link", name="Delete").click()
    page.wait_for_url(f"{base}/plugins/{private.pk}/delete/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete “private”?")
    screens.shot(page, "plugin delete confirmation")
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{base}/plugins/")
    expect(page.locator("ul.messages")).to_contain_text("Plugin “private” deleted")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(page.get_by_role("link", name="private", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="open", exact=True)).to_be_visible()
    assert not Plugin.objects.filter(pk=private.pk).exists()
    assert not checkout.exists()
    screens.shot(page, "list after delete")

    # --- 9. the list on a phone: no sideways scrolling ------------------------------------------------
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_role("link", name="open", exact=True)).to_be_visible()
    screens.shot(page, "plugin list on a phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    assert screens.problems() == []
    context.close()
