"""A field that was ever secret stays secret: through every schema edit, on every face, and in tests' messages."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from credentials.models import Credential, CredentialType
from credentials.services import credential_reveal, credential_update
from credentials.testers.runs import credential_test_run
from tests.canary import Haystack, dump_database
from tests.credentials.test_admin import CUSTOM_SCHEMA, add_url, canary, form_errors, type_data
from tests.form_data import add_data

pytestmark = pytest.mark.django_db

WITHOUT_KEY = [field for field in CUSTOM_SCHEMA if field["name"] != "api_key"]
KEY_IN_CLEAR = [*WITHOUT_KEY, {"name": "api_key", "label": "API key"}]


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


def change_type_url(custom: CredentialType) -> str:
    return reverse("admin:credentials_credentialtype_change", args=[custom.pk])


@pytest.fixture
def acme(staff_client):
    """A custom type with a secret ``api_key``, and a credential of it holding a canary."""
    response = staff_client.post(reverse("admin:credentials_credentialtype_add"), type_data())
    assert response.status_code == 302, form_errors(response)
    secret = canary()
    fields = {"name": "acct-42", "base_url": "https://api.acme.test", "api_key": secret}
    response = staff_client.post(add_url("acme_api"), add_data("acme_api", fields, name="Acme production"))
    assert response.status_code == 302, form_errors(response)
    return CredentialType.objects.get(slug="acme_api"), Credential.objects.get(name="Acme production"), secret


def test_the_type_remembers_every_field_that_was_secret(acme):
    custom, _, _ = acme
    assert custom.secret_history == ["api_key"]


def test_removing_a_secret_field_then_adding_it_back_in_clear_is_refused_in_the_admin(staff_client, acme):
    custom, _, _ = acme
    response = staff_client.post(change_type_url(custom), type_data(schema=json.dumps(WITHOUT_KEY)))
    assert response.status_code == 302, form_errors(response)
    custom.refresh_from_db()

    response = staff_client.post(change_type_url(custom), type_data(schema=json.dumps(KEY_IN_CLEAR)))
    assert response.status_code == 200
    assert any("api_key" in m and "was secret" in m for m in form_errors(response)["schema"])
    custom.refresh_from_db()
    assert custom.schema == WITHOUT_KEY


def test_a_schema_saved_around_the_admin_cannot_turn_a_stored_secret_plain(staff_client, superuser, acme):
    """Any service or migration that saves the row is refused; one that writes the column behind the
    model's back still gets a type that treats the field as secret, and the sealed payload's own list."""
    custom, credential, secret = acme
    custom.schema = WITHOUT_KEY
    custom.save()
    custom.schema = KEY_IN_CLEAR
    with pytest.raises(ValueError, match="api_key"):
        custom.save()

    CredentialType.objects.filter(pk=custom.pk).update(schema=KEY_IN_CLEAR, secret_history=[])
    credential_update(
        actor=superuser, credential_id=credential.pk, changes={"fields": {"name": "acct-43"}}, expected_version=1
    )
    credential.refresh_from_db()
    assert "api_key" not in credential.public_fields
    haystack = Haystack()
    haystack.add("detail page", staff_client.get(reverse("credentials:detail", args=[credential.pk])).content.decode())
    haystack.add(
        "admin page",
        staff_client.get(reverse("admin:credentials_credential_change", args=[credential.pk])).content.decode(),
    )
    haystack.add("api", staff_client.get(f"/api/credentials/{credential.pk}/").content.decode())
    dump_database(haystack, "after the edit")
    assert haystack.leaks({secret}) == []


def test_a_test_spec_cannot_put_a_field_that_was_secret_in_the_url(staff_client, acme):
    custom, _, _ = acme
    staff_client.post(change_type_url(custom), type_data(schema=json.dumps(WITHOUT_KEY)))
    spec = {"url": "{base_url}/check?key={api_key}"}
    response = staff_client.post(
        change_type_url(custom), type_data(schema=json.dumps(KEY_IN_CLEAR), test_spec=json.dumps(spec))
    )
    assert response.status_code == 200
    custom.refresh_from_db()
    assert custom.test_spec == {}


def test_secret_names_survive_in_the_sealed_payload(superuser, acme):
    custom, credential, secret = acme
    CredentialType.objects.filter(pk=custom.pk).update(schema=KEY_IN_CLEAR, secret_history=[])
    revealed = credential_reveal(actor=superuser, credential_id=credential.pk, service="t")
    assert "api_key" in revealed.secret_names
    assert secret in revealed.secret_values


def test_tested_event_of_a_type_whose_schema_was_rewritten_masks_the_old_secret(superuser, acme):
    custom, credential, secret = acme
    CredentialType.objects.filter(pk=custom.pk).update(
        schema=KEY_IN_CLEAR,
        secret_history=[],
        # The host is not allowed: the test fails before connecting, echoing the URL it refused.
        test_spec={"url": "https://elsewhere.test/{api_key}", "expect_status": [200]},
    )
    Credential.objects.filter(pk=credential.pk).update(test_status="running", test_run="0" * 32)
    credential_test_run(credential_id=credential.pk, run="0" * 32, actor_id=superuser.pk)
    credential.refresh_from_db()
    event = AuditEvent.objects.filter(action=AuditAction.TESTED, credential_id=credential.pk).get()
    assert secret not in credential.test_message
    assert secret not in json.dumps(event.details)


def test_code_that_makes_a_built_in_secret_plain_stops_the_sync_after_migrate():
    from django.core.exceptions import ImproperlyConfigured

    from credentials.services import credential_types_sync
    from credentials.types import Field
    from credentials.types.builtin import GitHubPAT

    class TokenInClear(GitHubPAT):  # no slug of its own: not registered, only handed to the sync
        fields = (Field(name="token", label="Token"), *GitHubPAT.fields[1:])

    changed = TokenInClear()
    with pytest.raises(ImproperlyConfigured, match=r"github_pat.*'token' was secret once"):
        credential_types_sync(registered=[changed])
    row = CredentialType.objects.get(slug="github_pat")
    assert row.secret_history == ["token"] and row.schema[0]["secret"] is True
    assert CredentialType.objects.filter(is_system=True, is_active=False).count() == 0  # nothing half-written
