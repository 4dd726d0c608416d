"""An SSH key's pages: the host-key fetcher on its form, and its public half (not its private key) on its detail."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from rest_framework.test import APIClient

from credentials.hostkeys import PRESETS
from credentials.models import Credential
from credentials.sharing import credential_share
from tests.factories import make_credential, make_user, ssh_keypair
from tests.form_data import add_data
from tests.pages.conftest import client_for

pytestmark = pytest.mark.django_db

CANARY = "canary-hostkeys-7f3a9c"


def _public_line(passphrase: str) -> str:
    return " ".join(ssh_keypair(passphrase)[1].split()[:2])


def test_the_ssh_key_form_loads_the_fetcher_and_explains_pins_and_hosts(owner_client):
    html = owner_client.get(reverse("credentials:create", kwargs={"type_slug": "ssh_key"})).content.decode()
    assert 'src="/static/latchkey/hostkeys.js"' in html
    assert 'data-host-keys-api="/api/ssh/host-keys/"' in html
    assert "which server is genuine" in html and "where the key may be sent" in html
    assert "<script>" not in html  # no inline script: the CSP would refuse it


def test_other_types_forms_do_not_load_it(owner_client):
    html = owner_client.get(reverse("credentials:create", kwargs={"type_slug": "github_pat"})).content.decode()
    assert "hostkeys.js" not in html


def test_the_script_is_served():
    assert finders.find("latchkey/hostkeys.js") is not None


def test_preset_lines_pasted_as_ticked_are_pinned_and_become_the_allowed_hosts(owner_client, owner):
    private, _ = ssh_keypair("")
    github = next(preset for preset in PRESETS if preset.host == "github.com")
    ticked = [key.line for key in github.keys if key.key_type != "ssh-rsa"]  # the user ticked two of three
    data = add_data("ssh_key", {"private_key": private, "passphrase": "", "host_keys": "\n".join(ticked)})
    response = owner_client.post(reverse("credentials:create", kwargs={"type_slug": "ssh_key"}), data)
    assert response.status_code == 302, response.context["form"].errors
    credential = Credential.objects.get(owner=owner, type__slug="ssh_key")
    assert credential.allowed_hosts == ["github.com"]
    assert {pin["fingerprint"] for pin in credential.metadata["host_key_fingerprints"]} == {
        key.fingerprint for key in github.keys if key.key_type != "ssh-rsa"
    }


def test_the_detail_page_shows_the_public_half_with_a_copy_button_never_the_private_key(owner_client, owner):
    credential = make_credential(owner, "ssh_key", secret=CANARY, name="deploy")
    private = ssh_keypair(CANARY)[0]
    public = _public_line(CANARY)
    assert credential.metadata["public_key"] == public
    html = owner_client.get(reverse("credentials:detail", kwargs={"pk": credential.pk})).content.decode()
    assert f'id="public-key" value="{public}" readonly' in html
    assert 'data-copy="public-key"' in html and 'src="/static/latchkey/copy.js"' in html
    for secret in (CANARY, private, *private.splitlines()[1:-1]):
        assert secret not in html


def test_the_api_shows_the_public_half_never_the_private_key(owner):
    credential = make_credential(owner, "ssh_key", secret=CANARY)
    client = APIClient()
    client.force_authenticate(owner)
    response = client.get(f"/api/credentials/{credential.pk}/")
    assert response.json()["metadata"]["public_key"] == _public_line(CANARY)
    private = ssh_keypair(CANARY)[0]
    for secret in (CANARY, private, *private.splitlines()[1:-1]):
        assert secret.encode() not in response.content


def test_a_use_only_user_does_not_see_the_public_half(owner):
    credential = make_credential(owner, "ssh_key", secret=CANARY)
    user = make_user()
    credential_share(actor=owner, credential_id=credential.pk, permissions=["use"], user=user)
    html = client_for(user).get(reverse("credentials:detail", kwargs={"pk": credential.pk})).content.decode()
    assert _public_line(CANARY) not in html and "copy.js" not in html


# --- the admin -----------------------------------------------------------------------------------


def test_the_admin_form_loads_the_fetcher_and_its_change_page_shows_the_public_half(superuser):
    client = client_for(superuser)
    add = client.get(reverse("admin:credentials_credential_add") + "?type=ssh_key").content.decode()
    assert "/static/latchkey/hostkeys.js" in add and 'data-schema-field="host_keys"' in add
    credential = make_credential(superuser, "ssh_key", secret=CANARY)
    change = client.get(reverse("admin:credentials_credential_change", args=[credential.pk])).content.decode()
    assert _public_line(CANARY) in change
    private = ssh_keypair(CANARY)[0]
    for secret in (CANARY, private, *private.splitlines()[1:-1]):
        assert secret not in change
