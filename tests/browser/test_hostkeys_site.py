"""In a browser: a preset, and a real sshd's keys fetched, only the ticked ones pinned; the public half copied."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from credentials.hostkeys import PRESETS
from credentials.models import Credential
from tests.browser.session import admin_log_in, assert_no_secret, log_in
from tests.conftest import require_service
from tests.factories import make_user, ssh_keypair
from tests.integration.hostkey_server import multi_key_sshd

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def test_pin_a_preset_and_fetched_keys_then_copy_the_public_half(browser, live_server, screens, tmp_path):
    require_service(
        os.path.exists("/usr/sbin/sshd") and shutil.which("ssh-keygen") is not None,
        "OpenSSH's server is not installed (apt-get install openssh-server)",
    )
    base = live_server.url
    make_user("carol")
    passphrase = "pp-hostkeys-browser-4d1e"
    private_key, public_line = ssh_keypair(passphrase)
    github = {key.key_type: key for key in next(p for p in PRESETS if p.host == "github.com").keys}

    with multi_key_sshd(tmp_path) as (port, fingerprints, _):
        context = browser.new_context()
        page = context.new_page()
        screens.watch(page)
        log_in(page, base, "carol")
        page.goto(f"{base}/credentials/new/ssh_key/")
        # By the inputs' ids: their labels may carry a "required" mark.
        page.locator("#id_name").fill("deploy")
        page.locator("#id_field__private_key").fill(private_key)
        page.locator("#id_field__passphrase").fill(passphrase)
        pinned = page.locator("#id_field__host_keys")

        # GitHub's published keys: shown with their fingerprints, none pinned until ticked.
        page.get_by_role("button", name="github.com").click()
        for key in github.values():
            assert page.get_by_text(key.fingerprint).is_visible()
        screens.shot(page, "github presets")
        page.get_by_role("button", name="Pin the ticked keys").click()
        assert pinned.input_value() == ""
        page.get_by_label(re.compile(r"^ssh-ed25519 ")).check()
        page.get_by_role("button", name="Pin the ticked keys").click()
        assert pinned.input_value().strip() == github["ssh-ed25519"].line

        # The real sshd's keys, fetched through the API; only the ECDSA one is ticked.
        page.get_by_label("Server").fill("127.0.0.1")
        page.get_by_label("Port", exact=True).fill(str(port))
        page.get_by_label("Port", exact=True).press("Enter")  # fetches; does not submit the form
        page.get_by_text("127.0.0.1 offered these keys:").wait_for()
        for fingerprint in fingerprints.values():
            assert page.get_by_text(fingerprint).is_visible()
        screens.shot(page, "fetched keys")
        page.get_by_label(re.compile(r"^ecdsa-sha2-nistp256 ")).check()
        page.get_by_role("button", name="Pin the ticked keys").click()
        lines = pinned.input_value().split()
        assert lines.count(f"[127.0.0.1]:{port}") == 1 and "ssh-rsa" not in lines and "ssh-ed25519" in lines

        # A refused address answers with the policy's reason, and the form is untouched.
        page.get_by_label("Server").fill("169.254.169.254")
        page.get_by_role("button", name="Fetch host keys").click()
        page.get_by_text(re.compile("link-local address")).wait_for()
        screens.shot(page, "refused address")

        page.get_by_role("button", name="Save").click()
        page.wait_for_url(re.compile(r"/credentials/[0-9a-f-]{36}/$"))
        credential = Credential.objects.get(name="deploy")
        assert sorted(credential.allowed_hosts) == ["127.0.0.1", "github.com"]
        assert {pin["fingerprint"] for pin in credential.metadata["host_key_fingerprints"]} == {
            github["ssh-ed25519"].fingerprint,
            fingerprints["ecdsa-sha2-nistp256"],
        }

        # The detail page: the public half, with a copy button; never the private key.
        public = " ".join(public_line.split()[:2])
        assert page.locator("#public-key").input_value() == public
        page.get_by_role("button", name="Copy").click()
        page.locator("#public-key-copied").get_by_text(re.compile(r"^(Copied|Could not copy)")).wait_for()
        assert_no_secret(page, {private_key, passphrase})
        screens.shot(page, "public key")
        # The one refused fetch is the only answer of 400, and nothing else went wrong.
        expected = (f"error: 400 POST {base}/api/ssh/host-keys/", "the server responded with a status of 400")
        assert [line for line in screens.problems() if not any(e in line for e in expected)] == []
        assert len(screens.problems()) <= 2
        context.close()


def test_staff_pin_a_preset_in_the_admin(browser, live_server, screens):
    base = live_server.url
    make_user("root", is_staff=True, is_superuser=True)
    gitlab = {key.key_type: key for key in next(p for p in PRESETS if p.host == "gitlab.com").keys}
    private_key, _ = ssh_keypair("")

    context = browser.new_context()
    page = context.new_page()
    screens.watch(page)
    admin_log_in(page, base, "root")
    page.goto(f"{base}/admin/credentials/credential/add/?type=ssh_key")
    page.locator("#id_name").fill("gitlab-deploy")
    page.locator("#id_field__private_key").fill(private_key)
    page.get_by_role("button", name="gitlab.com").click()
    for key in gitlab.values():
        assert page.get_by_text(key.fingerprint).is_visible()
    page.get_by_label(re.compile(r"^ssh-ed25519 ")).check()
    page.get_by_label(re.compile(r"^ssh-rsa ")).check()
    page.get_by_role("button", name="Pin the ticked keys").click()
    screens.shot(page, "admin gitlab presets")
    assert page.locator("#id_field__host_keys").input_value().split("\n")[:2] == [
        gitlab["ssh-ed25519"].line,
        gitlab["ssh-rsa"].line,
    ]
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"{base}/admin/credentials/credential/")
    credential = Credential.objects.get(name="gitlab-deploy")
    assert credential.allowed_hosts == ["gitlab.com"]
    assert len(credential.metadata["host_key_fingerprints"]) == 2
    assert screens.problems() == []
    context.close()
