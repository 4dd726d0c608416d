"""Everything that shapes how a secret travels is part of its route: sealed with it, changed only with it again.

A user who may *change* a credential, but never saw its secret, must not be able to send it to
another port, downgrade its TLS, swap the CA that vouches for the server, or move it into a
header that servers log. Also: CA certificates are parsed when saved, and secrets too short to
be redacted are refused.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rest_framework.test import APIClient

from credentials.models import Credential, CredentialType
from credentials.services import credential_create, credential_reveal, credential_update
from credentials.sharing import credential_share
from tests.factories import ca_certificate_pem as ca_pem
from tests.factories import make_user, valid_fields

pytestmark = pytest.mark.django_db

SECRET = "route-canary-" + uuid.uuid4().hex


def key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def changer(db):
    return make_user("changer")


def shared_for_change(owner: Any, changer: Any, type_slug: str, **fields: Any) -> Credential:
    values = {**valid_fields(type_slug, SECRET), **fields}
    credential = credential_create(actor=owner, type_slug=type_slug, name=f"{type_slug}-route", fields=values)
    credential_share(actor=owner, credential_id=credential.pk, permissions=["change"], user=changer)
    return credential


ROUTE_CHANGES = [
    pytest.param("postgres", {}, {"port": 6543}, id="postgres-port"),
    pytest.param("postgres", {}, {"sslmode": "disable"}, id="postgres-sslmode-downgrade"),
    pytest.param(
        "postgres",
        {"sslmode": "verify-full", "ssl_root_cert": ca_pem()},
        {"ssl_root_cert": ca_pem("Attacker CA")},
        id="postgres-ca",
    ),
    pytest.param("redis", {}, {"port": 6380}, id="redis-port"),
    pytest.param("redis", {"tls": True}, {"tls": False}, id="redis-tls-off"),
    pytest.param(
        "redis", {"tls": True, "tls_ca_cert": ca_pem()}, {"tls_ca_cert": ca_pem("Attacker CA")}, id="redis-ca"
    ),
    pytest.param("http_header", {}, {"header_name": "User-Agent"}, id="header-into-user-agent"),
    pytest.param("http_bearer", {}, {"base_url": "http://api.example.com"}, id="scheme-downgrade"),
    pytest.param("http_bearer", {}, {"base_url": "https://api.example.com:8443"}, id="url-port"),
]


@pytest.mark.parametrize(("type_slug", "initial", "change"), ROUTE_CHANGES)
def test_a_change_only_user_cannot_change_the_route_without_the_secret(owner, changer, type_slug, initial, change):
    credential = shared_for_change(owner, changer, type_slug, **initial)
    before = Credential.objects.values("ciphertext", "public_fields", "version").get(pk=credential.pk)

    response = client_for(changer).patch(
        f"/api/credentials/{credential.pk}/", {"version": 1, "fields": change}, format="json"
    )

    assert response.status_code == 400, response.json()
    secrets = credential.type.spec.secret_field_names
    messages = response.json()["errors"]["fields"]
    for name in secrets:
        if name in credential.secrets_set:
            assert any("Enter this secret again" in m for m in messages[name]), messages
    assert Credential.objects.values("ciphertext", "public_fields", "version").get(pk=credential.pk) == before


@pytest.mark.parametrize(("type_slug", "initial", "change"), ROUTE_CHANGES)
def test_the_route_changes_with_every_secret_entered_again(owner, changer, type_slug, initial, change):
    credential = shared_for_change(owner, changer, type_slug, **initial)
    again = {name: SECRET for name in credential.secrets_set}
    response = client_for(changer).patch(
        f"/api/credentials/{credential.pk}/", {"version": 1, "fields": {**change, **again}}, format="json"
    )
    assert response.status_code == 200, response.json()
    revealed = credential_reveal(actor=owner, credential_id=credential.pk, service="test")
    for name, value in change.items():
        assert revealed[name] == value  # sealed with the secret: what the door hands a tester


def test_other_fields_still_change_without_the_secret(owner, changer):
    credential = shared_for_change(owner, changer, "postgres")
    response = client_for(changer).patch(
        f"/api/credentials/{credential.pk}/", {"version": 1, "fields": {"database": "reports"}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert credential_reveal(actor=owner, credential_id=credential.pk, service="t")["password"] == SECRET


def test_a_custom_type_routes_through_the_fields_its_test_request_is_built_from(owner, changer):
    CredentialType.objects.create(
        slug="acme_route",
        name="Acme",
        schema=[
            {"name": "base_url", "label": "URL", "required": True},
            {"name": "auth_scheme", "label": "Scheme", "default": "Bearer"},
            {"name": "note", "label": "Note"},
            {"name": "api_key", "label": "Key", "secret": True, "required": True},
        ],
        test_spec={"url": "{base_url}/me", "headers": {"Authorization": "{auth_scheme} {api_key}"}},
    )
    credential = credential_create(
        actor=owner,
        type_slug="acme_route",
        name="acme",
        fields={"base_url": "https://api.acme.test", "api_key": SECRET},
    )
    credential_share(actor=owner, credential_id=credential.pk, permissions=["change"], user=changer)
    client = client_for(changer)
    url = f"/api/credentials/{credential.pk}/"
    refused = client.patch(url, {"version": 1, "fields": {"auth_scheme": "X-Debug-Echo:"}}, format="json")
    assert refused.status_code == 400
    assert "api_key" in refused.json()["errors"]["fields"]
    assert client.patch(url, {"version": 1, "fields": {"note": "free"}}, format="json").status_code == 200


@pytest.mark.parametrize(
    ("type_slug", "fields", "field"),
    [
        pytest.param("postgres", {"sslmode": "verify-full", "ssl_root_cert": "not a certificate"}, "ssl_root_cert"),
        pytest.param("redis", {"tls": True, "tls_ca_cert": "-----BEGIN CERTIFICATE-----\nAAAA\n"}, "tls_ca_cert"),
        pytest.param("redis", {"tls": True, "tls_ca_cert": key_pem()}, "tls_ca_cert", id="a-private-key"),
        pytest.param(
            "postgres",
            {"sslmode": "verify-ca", "ssl_root_cert": ca_pem() + "\n" + key_pem()},
            "ssl_root_cert",
            id="a-certificate-and-a-key",
        ),
    ],
)
def test_ca_certificates_are_parsed_when_saved(api_client, type_slug, fields, field):
    body = {"type": type_slug, "name": "pem", "fields": {**valid_fields(type_slug, SECRET), **fields}}
    response = api_client.post("/api/credentials/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["fields"][field]
    assert not Credential.objects.exists()
    assert "PRIVATE KEY" not in response.content.decode().replace("not PRIVATE KEY", "")


def test_a_valid_ca_certificate_is_accepted(api_client):
    fields = {**valid_fields("postgres", SECRET), "sslmode": "verify-full", "ssl_root_cert": ca_pem()}
    response = api_client.post(
        "/api/credentials/", {"type": "postgres", "name": "pem", "fields": fields}, format="json"
    )
    assert response.status_code == 201, response.json()


# --- Secrets too short to be redacted ----------------------------------------------------------------


def test_a_secret_shorter_than_the_minimum_is_refused_by_field(api_client):
    body = {"type": "http_basic", "name": "short", "fields": {**valid_fields("http_basic"), "password": "t"}}
    response = api_client.post("/api/credentials/", body, format="json")
    assert response.status_code == 400
    [message] = response.json()["errors"]["fields"]["password"]
    assert "at least 8 characters" in message
    assert not Credential.objects.exists()


def test_every_problem_is_reported_with_the_short_secret(api_client):
    fields = {"base_url": "not a url", "username": "svc", "password": "short"}
    response = api_client.post(
        "/api/credentials/", {"type": "http_basic", "name": "x", "fields": fields}, format="json"
    )
    assert set(response.json()["errors"]["fields"]) == {"base_url", "password"}


def test_a_short_secret_entered_on_update_is_refused(owner):
    credential = credential_create(actor=owner, type_slug="github_pat", name="gh", fields=valid_fields("github_pat"))
    with pytest.raises(Exception, match="at least 8") as caught:
        credential_update(actor=owner, credential_id=credential.pk, changes={"fields": {"token": "abc"}})
    assert caught.value.field_errors["token"]


def test_an_operator_may_lower_the_minimum_and_stored_secrets_are_not_judged_again(owner, settings):
    settings.CREDENTIAL_SECRET_MIN_LENGTH = 4
    credential = credential_create(
        actor=owner, type_slug="redis", name="r", fields={**valid_fields("redis"), "password": "abcd"}
    )
    settings.CREDENTIAL_SECRET_MIN_LENGTH = 8
    updated = credential_update(
        actor=owner, credential_id=credential.pk, changes={"fields": {"db": 2}, "description": "still editable"}
    )
    assert updated.public_fields["db"] == 2


def test_the_edit_form_says_which_fields_need_the_secrets_again(client, owner):
    from django.urls import reverse

    client.force_login(owner)
    credential = credential_create(
        actor=owner, type_slug="postgres", name="pg", fields=valid_fields("postgres", SECRET)
    )
    form = client.get(reverse("credentials:edit", args=[credential.pk])).context["form"]
    needs_secret = {name for name, field in form.fields.items() if "requires entering the secrets" in field.help_text}
    assert needs_secret == {"allowed_hosts", "field__host", "field__port", "field__sslmode", "field__ssl_root_cert"}


def test_the_site_edit_page_refuses_a_route_change_without_the_secret(client, owner, changer):
    from django.urls import reverse

    from tests.form_data import data_sent_back

    credential = shared_for_change(owner, changer, "http_header")
    client.force_login(changer)
    url = reverse("credentials:edit", args=[credential.pk])
    data = data_sent_back(client.get(url).context["form"])
    data["field__header_name"] = "User-Agent"
    response = client.post(url, data)
    assert response.status_code == 200
    assert any("Enter this secret again" in m for m in response.context["form"].errors["field__header_value"])
    assert credential_reveal(actor=owner, credential_id=credential.pk, service="t")["header_name"] == "X-API-Key"
