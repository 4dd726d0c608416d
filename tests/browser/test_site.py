"""The site and the admin in a real browser: log in, create from generated forms, share, edit, never a secret."""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.auth.models import Group

from credentials.door import credential_reveal
from credentials.models import Credential
from tests.browser.session import PHONE, admin_log_in, assert_no_secret, log_in, log_out
from tests.factories import host_key_line, make_user, ssh_keypair

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def test_users_create_share_and_edit_credentials_in_the_browser(browser, live_server, screens):
    base = live_server.url
    owner = make_user("alice")
    make_user("bob")
    Group.objects.create(name="ops")
    password_canary = f"pg-{uuid.uuid4().hex}"
    passphrase_canary = f"pp-{uuid.uuid4().hex}"
    private_key, _ = ssh_keypair(passphrase_canary)
    secrets = {password_canary, passphrase_canary, private_key}

    context = browser.new_context()
    page = context.new_page()
    screens.watch(page)

    page.goto(f"{base}/")
    page.wait_for_url(re.compile(r"/accounts/login/\?next=/$"))
    screens.shot(page, "login")
    log_in(page, base, "alice")
    screens.shot(page, "empty list")

    # --- an SSH key, with a mistake first ---------------------------------------------------------
    page.get_by_role("link", name="New credential").first.click()
    page.wait_for_url(f"{base}/credentials/new/")
    screens.shot(page, "choose type")
    page.get_by_role("link", name=re.compile("^SSH key")).click()
    page.get_by_label("Name", exact=True).fill("deploy-key")
    page.get_by_label("Private key").fill(private_key)
    page.get_by_label("Passphrase").fill(passphrase_canary)
    page.get_by_role("button", name="Save").click()
    # Refused: the pinned host keys are required. The error sits beside the field, the name is
    # kept, and neither secret comes back.
    error = page.locator("#id_field__host_keys_error")
    assert "This field is required." in error.inner_text()
    assert page.get_by_label("Pinned host keys").get_attribute("aria-describedby") is not None
    assert page.get_by_label("Name", exact=True).input_value() == "deploy-key"
    assert page.get_by_label("Private key").input_value() == ""
    assert_no_secret(page, secrets)
    screens.shot(page, "ssh key field error")
    page.get_by_label("Private key").fill(private_key)
    page.get_by_label("Passphrase").fill(passphrase_canary)
    page.get_by_label("Pinned host keys").fill(host_key_line("git.example.com"))
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/credentials/[0-9a-f-]{36}/$"))
    ssh_credential = Credential.objects.get(name="deploy-key")
    assert ssh_credential.metadata["fingerprint"] in page.content()
    assert_no_secret(page, secrets)
    screens.shot(page, "ssh key detail")

    # --- a PostgreSQL password, with a conditional field -------------------------------------------
    page.goto(f"{base}/credentials/new/postgres/")
    certificate = page.get_by_label("CA certificate")
    assert certificate.is_hidden()  # shown only for sslmode verify-ca or verify-full
    page.get_by_label("SSL mode").select_option("verify-full")
    assert certificate.is_visible()
    screens.shot(page, "postgres conditional field shown")
    page.get_by_label("SSL mode").select_option("require")
    assert certificate.is_hidden()
    page.get_by_label("Name", exact=True).fill("orders-db")
    page.get_by_label("Host", exact=True).fill("db.example.com")
    page.get_by_label("Port").fill("99999")
    page.get_by_label("Database").fill("orders")
    page.get_by_label("User name").fill("orders")
    page.get_by_label("Password", exact=True).fill(password_canary)
    page.get_by_role("button", name="Save").click()
    assert "less than or equal to 65535" in page.locator("#id_field__port_error").inner_text()
    assert page.get_by_label("Host", exact=True).input_value() == "db.example.com"
    assert page.get_by_label("Password", exact=True).input_value() == ""
    screens.shot(page, "postgres field error")
    page.get_by_label("Port").fill("5432")
    page.get_by_label("Password", exact=True).fill(password_canary)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/credentials/[0-9a-f-]{36}/$"))
    postgres = Credential.objects.get(name="orders-db")
    assert postgres.public_fields["sslmode"] == "require" and "ssl_root_cert" not in postgres.public_fields

    # --- share it with bob (use only) -----------------------------------------------------------------
    page.get_by_role("link", name="Share").click()
    page.wait_for_load_state()  # the picker's script has run
    # Two letters offer the users whose names start with them (share_picker.js, from the API).
    with page.expect_response(lambda response: "/api/share-candidates/" in response.url) as searched:
        page.get_by_label("User name").press_sequentially("bo")
    assert searched.value.status == 200, searched.value.text()
    assert {"kind": "user", "name": "bob", "full_name": ""} in searched.value.json()["results"]
    page.locator('#id_user_candidates option[value="bob"]').wait_for(state="attached")
    page.get_by_label("User name").fill("bob")
    page.get_by_role("button", name="Share").click()
    assert "bob" in page.locator("table.list").inner_text()
    page.get_by_label("or group").fill("ops")
    page.get_by_role("button", name="Share").click()
    assert "Group ops" in page.locator("table.list").inner_text()
    screens.shot(page, "shares")

    page.goto(f"{base}/")
    assert page.get_by_role("link", name="orders-db").is_visible()
    screens.shot(page, "list")
    # The keyboard: the first Tab reaches the skip link, which takes focus past the menu.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.set_viewport_size(PHONE)
    screens.shot(page, "list on a phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 800})
    log_out(page)

    # --- bob sees it, without a secret and without the controls ----------------------------------
    log_in(page, base, "bob")
    page.get_by_role("link", name="orders-db").click()
    page.wait_for_url(re.compile(r"/credentials/[0-9a-f-]{36}/$"))
    assert page.get_by_role("link", name="Edit").count() == 0
    assert page.get_by_role("link", name="Share").count() == 0
    assert_no_secret(page, secrets)
    screens.shot(page, "shared detail as bob")
    log_out(page)

    # --- alice edits, leaving the secret blank --------------------------------------------------------
    log_in(page, base, "alice")
    page.goto(f"{base}/credentials/{postgres.pk}/edit/")
    assert page.get_by_label("Password", exact=True).input_value() == ""
    assert "Stored; leave blank to keep." in page.content()
    screens.shot(page, "edit")
    page.get_by_label("Description").fill("the orders database")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{base}/credentials/{postgres.pk}/")
    screens.shot(page, "detail after edit")
    postgres.refresh_from_db()
    assert postgres.description == "the orders database" and postgres.version == 2
    assert credential_reveal(actor=owner, credential_id=postgres.pk, service="browser-test")["password"] == (
        password_canary
    )
    page.goto(f"{base}/credentials/{postgres.pk}/delete/")
    screens.shot(page, "delete confirmation")
    assert_no_secret(page, secrets)

    assert screens.problems() == []
    context.close()


def test_staff_create_a_credential_in_the_admin(browser, live_server, screens):
    base = live_server.url
    make_user("root", is_staff=True, is_superuser=True)
    token = f"ghp_{uuid.uuid4().hex}"

    context = browser.new_context()
    page = context.new_page()
    screens.watch(page)
    admin_log_in(page, base, "root")
    page.goto(f"{base}/admin/credentials/credential/add/")
    screens.shot(page, "admin choose type")
    page.get_by_role("link", name="Redis").click()
    certificate = page.locator("#id_field__tls_ca_cert")
    assert certificate.is_hidden()
    page.locator("#id_field__tls").check()
    assert certificate.is_visible()
    page.locator("#id_field__tls").uncheck()
    page.locator("#id_name").fill("cache")
    page.locator("#id_field__host").fill("cache.example.com")
    page.locator("#id_field__password").fill(token)
    screens.shot(page, "admin schema form")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"{base}/admin/credentials/credential/")
    screens.shot(page, "admin list")
    credential = Credential.objects.get(name="cache")
    assert credential.type.slug == "redis" and credential.public_fields["host"] == "cache.example.com"
    page.goto(f"{base}/admin/credentials/credential/{credential.pk}/change/")
    assert token not in page.content()
    screens.shot(page, "admin change form")
    assert screens.problems() == []
    context.close()


def test_the_api_docs_render_under_the_content_security_policy(browser, live_server, screens):
    make_user("reader")
    context = browser.new_context()
    page = context.new_page()
    screens.watch(page)
    log_in(page, live_server.url, "reader")
    page.goto(f"{live_server.url}/api/docs/")
    page.get_by_text("/api/credentials/").first.wait_for()
    screens.shot(page, "api docs")
    assert screens.problems() == []
    context.close()
