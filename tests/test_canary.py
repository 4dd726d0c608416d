"""The canary: a unique secret goes through every operation and is then looked for everywhere.

A credential of every built-in type holds the canary in every secret field; it is created,
updated (new canaries), read through the one door, denied to a stranger, rolled back to its
first canary with the second's version destroyed, submitted with errors in the admin, and
deleted. The canary, in its plain, URL-encoded and base64 forms, must then appear in no audit
row, no captured log line (SQL included), no admin page, no error message and no database
column.
"""

import base64
import logging
import uuid
from urllib.parse import quote

import pytest
from django.db import connection

from credentials.errors import CredentialNotFound
from credentials.models import Credential
from credentials.selectors import credential_versions_for_user
from credentials.services import credential_delete, credential_reveal, credential_update
from credentials.versions.services import credential_rollback, credential_version_destroy
from tests.canary import Haystack, dump_database
from tests.factories import BUILTIN_SLUGS, make_credential, ssh_keypair, valid_fields


def admin_pages(client, haystack: Haystack, credentials) -> None:
    urls = [
        "/admin/",
        "/admin/credentials/credential/",
        "/admin/credentials/credentialtype/",
        "/admin/audit/auditevent/",
    ]
    for credential in credentials:
        base = f"/admin/credentials/credential/{credential.pk}"
        urls += [f"{base}/change/", f"{base}/history/", f"{base}/delete/"]
    from audit.models import AuditEvent

    urls += [f"/admin/audit/auditevent/{pk}/change/" for pk in AuditEvent.objects.values_list("pk", flat=True)]
    urls += ["/admin/credentials/credential/add/"] + [
        f"/admin/credentials/credential/add/?type={slug}" for slug in BUILTIN_SLUGS
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        haystack.add(f"GET {url}", response.content.decode())
        haystack.add(f"headers {url}", dict(response.headers))


@pytest.fixture
def sql_logged():
    """Log every SQL statement with its parameters, as DEBUG would, so the canary search covers them."""
    previous = connection.force_debug_cursor
    connection.force_debug_cursor = True
    logging.getLogger("django.db.backends").setLevel(logging.DEBUG)
    yield
    connection.force_debug_cursor = previous
    logging.getLogger("django.db.backends").setLevel(logging.NOTSET)


def test_the_canary_leaks_nowhere(owner, stranger, superuser, client, caplog, sql_logged):
    caplog.set_level(logging.DEBUG)
    haystack = Haystack()
    canary = f"CANARY-{uuid.uuid4().hex}"
    secrets = {canary, f"{canary}-v2"}
    private_key, _ = ssh_keypair(canary)
    new_private_key, _ = ssh_keypair(f"{canary}-v2")
    # The key body is a secret too: look for a line of it (the armour lines are not secret).
    secrets |= {line for key in (private_key, new_private_key) for line in key.splitlines()[1:3]}

    credentials = [make_credential(owner, slug, secret=canary, name=f"canary {slug}") for slug in BUILTIN_SLUGS]
    for credential in credentials:
        fields = valid_fields(credential.type.slug, f"{canary}-v2")
        credential_update(
            actor=owner, credential_id=credential.pk, changes={"fields": fields, "description": "rotated"}
        )
        revealed = credential_reveal(actor=owner, credential_id=credential.pk, service="canary-test")
        assert f"{canary}-v2" in revealed.secret_values
        haystack.add("repr of the revealed secret", repr(revealed))
        with pytest.raises(CredentialNotFound) as denied:
            credential_reveal(actor=stranger, credential_id=credential.pk, service="canary-test")
        haystack.add("denial message", str(denied.value))
        # The history: the first canary restored as version 3, the second's version destroyed; versions 1
        # and 3 keep the first sealed, and the faces list them (the admin's inline too) without a value.
        done = credential_rollback(actor=owner, credential_id=credential.pk, number=1)
        haystack.add("rollback", repr(done))
        destroyed = credential_version_destroy(actor=owner, credential_id=credential.pk, number=2)
        haystack.add("destroyed version", repr(vars(destroyed)))
        haystack.add("versions listed", repr(credential_versions_for_user(owner, credential=done.credential)))
        restored = credential_reveal(actor=owner, credential_id=credential.pk, service="canary-test")
        assert canary in restored.secret_values

    client.force_login(superuser)
    # A form sent back with an error must not echo the secrets it was given.
    response = client.post(
        "/admin/credentials/credential/add/?type=ssh_key",
        {
            "name": "canary bad",
            "environment": "production",
            "field__private_key": private_key,
            "field__passphrase": canary,
            "field__host_keys": "not a host key line",
        },
    )
    assert response.status_code == 200
    assert "not a known_hosts entry" in response.content.decode(), "the form did not get as far as the secrets"
    haystack.add("POST admin add with an error", response.content.decode())
    admin_pages(client, haystack, credentials)
    dump_database(haystack, "after update")

    for credential in credentials:
        credential_delete(actor=owner, credential_id=credential.pk)
    assert not Credential.objects.exists()
    dump_database(haystack, "after delete")
    admin_pages(client, haystack, [])

    for record in caplog.records:
        haystack.add(f"log {record.name}", record.getMessage())
        haystack.add(f"log args {record.name}", record.args)
    assert any(r.name == "django.db.backends" for r in caplog.records), "SQL was not logged: the search is blind"
    assert haystack.leaks(secrets) == []
    # The search can see: the canary's own name is in the haystack (credential names), so
    # a leak would not be missed for want of looking.
    assert any("canary github_pat" in text for _, text in haystack.pieces)
    assert any("Rolled back" in text and "History of the secret" in text for _, text in haystack.pieces), "no history"


@pytest.mark.parametrize("encode", [str, lambda s: quote(s, safe=""), lambda s: base64.b64encode(s.encode()).decode()])
def test_the_search_finds_a_planted_leak_in_any_form(encode):
    haystack = Haystack()
    haystack.add("page", f"<p>{encode('CANARY-planted/+=?')}</p>")
    assert haystack.leaks({"CANARY-planted/+=?"}), "a leak in this form would go unseen"


def test_the_canary_survives_every_schema_edit(superuser, client, caplog, sql_logged):
    """Staff remove a custom type's secret field, try to add it back in clear, and (past the model) do so;
    the credential is edited and tested; the canary is then looked for on every face."""
    import json

    from django.urls import reverse

    from credentials.models import CredentialType
    from credentials.testers.runs import credential_test_run
    from tests.credentials.test_admin import CUSTOM_SCHEMA, type_data
    from tests.form_data import add_data

    caplog.set_level(logging.DEBUG)
    haystack = Haystack()
    canary = f"CANARY-{uuid.uuid4().hex}"
    client.force_login(superuser)
    assert client.post(reverse("admin:credentials_credentialtype_add"), type_data()).status_code == 302
    fields = {"name": "acct", "base_url": "https://api.acme.test", "api_key": canary}
    client.post("/admin/credentials/credential/add/?type=acme_api", add_data("acme_api", fields, name="acme"))
    credential = Credential.objects.get(name="acme")
    custom = CredentialType.objects.get(slug="acme_api")
    change_type = reverse("admin:credentials_credentialtype_change", args=[custom.pk])
    without_key = [f for f in CUSTOM_SCHEMA if f["name"] != "api_key"]
    in_clear = [*without_key, {"name": "api_key", "label": "API key"}]
    assert client.post(change_type, type_data(schema=json.dumps(without_key))).status_code == 302
    haystack.add("refused type form", client.post(change_type, type_data(schema=json.dumps(in_clear))).content.decode())
    # A migration or a script that writes the columns around the model.
    CredentialType.objects.filter(pk=custom.pk).update(
        schema=in_clear, secret_history=[], test_spec={"url": "https://elsewhere.test/{api_key}"}
    )
    for version, name in enumerate(("acct-2", "acct-3"), start=1):
        response = client.patch(
            f"/api/credentials/{credential.pk}/",
            {"version": version, "fields": {"name": name}},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        haystack.add("api patch", response.content.decode())
    Credential.objects.filter(pk=credential.pk).update(test_status="running", test_run="1" * 32)
    credential_test_run(credential_id=credential.pk, run="1" * 32, actor_id=superuser.pk)
    for url in (f"/api/credentials/{credential.pk}/", f"/api/credentials/{credential.pk}/audit-logs/"):
        haystack.add(f"GET {url}", client.get(url).content.decode())
    haystack.add("detail page", client.get(reverse("credentials:detail", args=[credential.pk])).content.decode())
    haystack.add("edit page", client.get(reverse("credentials:edit", args=[credential.pk])).content.decode())
    admin_pages(client, haystack, [credential])
    dump_database(haystack, "after the schema edits")
    for record in caplog.records:
        haystack.add(f"log {record.name}", record.getMessage())
        haystack.add(f"log args {record.name}", record.args)
    assert haystack.leaks({canary}) == []
    # The value sealed as a secret was dropped by the edit, not moved into the clear columns.
    assert "api_key" not in credential_reveal(actor=superuser, credential_id=credential.pk, service="t").values
    assert any("acct-3" in text for _, text in haystack.pieces), "the search is blind"
