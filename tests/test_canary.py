"""The canary: a unique secret goes through every operation and is then looked for everywhere.

A credential of every built-in type holds the canary in every secret field; it is created,
updated (new canaries), read through the one door, denied to a stranger, rolled back to its
first canary with the second's version destroyed, submitted with errors in the admin, and
deleted. Its owner subscribed to every notification: each event is fanned out, mailed (each, and
the digest) and attempted as a webhook. The canary, in its plain, URL-encoded and base64 forms,
must then appear in no audit row, no captured log line (SQL included), no admin page, no e-mail,
no webhook body, no delivery log, no error message and no database column.
"""

import base64
import logging
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from credentials.errors import CredentialNotFound
from credentials.expiry import expiry_sweep
from credentials.models import Credential
from credentials.selectors import credential_versions_for_user
from credentials.services import credential_delete, credential_reveal, credential_update
from credentials.versions.services import credential_rollback, credential_version_destroy
from tests.canary import Haystack, dump_database
from tests.factories import BUILTIN_SLUGS, make_credential, ssh_keypair, valid_fields


def subscribe_to_everything(owner) -> None:
    """Every event by e-mail (some each, some in the digest) and to a webhook endpoint of the owner's."""
    from notifications.kinds import SUBSCRIBABLE
    from notifications.services import subscription_set
    from notifications.webhooks.endpoints import endpoint_create

    owner.email = "owner@example.com"
    owner.save(update_fields=["email"])
    for position, event in enumerate(SUBSCRIBABLE):
        email = "digest" if position % 2 else "immediate"
        subscription_set(actor=owner, event=event, scope="visible", email=email, webhook=True)
    endpoint_create(actor=owner, name="canary hook", url="http://127.0.0.1:9/hook")


def notifications_sent(client, haystack: Haystack, credentials) -> None:
    """Fan out every event raised so far, send every e-mail and digest, attempt every webhook (to a closed
    port: each attempt is logged), and add the mails, the webhook bodies and the notification pages."""
    from django.core import mail

    from notifications.email import send_digests, send_notice
    from notifications.fanout import fan_out
    from notifications.models import Channel, Delivery, RaisedEvent, WebhookEndpoint
    from notifications.webhooks.delivery import deliver_webhook
    from notifications.webhooks.sending import body_of

    for raised_id in RaisedEvent.objects.order_by("pk").values_list("pk", flat=True):
        fan_out(raised_id)
    deliveries = Delivery.objects.all()
    assert {d.event for d in deliveries} >= {"credential.secret_changed", "credential.rolled_back",
                                              "credential.expiring"}, "the events did not reach the search"  # fmt: skip
    for delivery in deliveries:
        if delivery.channel == Channel.EMAIL:
            send_notice(delivery.pk)
        elif delivery.channel == Channel.WEBHOOK:
            haystack.add(f"webhook body {delivery.event}", body_of(delivery.payload))
            deliver_webhook(delivery.pk, can_retry=False)
    send_digests()
    assert len(mail.outbox) > 1 and any("digest" in m.subject for m in mail.outbox)
    for message in mail.outbox:
        haystack.add(f"mail {message.subject}", message.message().as_string())
    urls = ["/notifications/", "/notifications/webhooks/", "/api/webhooks/", "/api/notifications/subscriptions/"]
    for endpoint_id in WebhookEndpoint.objects.values_list("pk", flat=True):
        urls += [f"/notifications/webhooks/{endpoint_id}/", f"/api/webhooks/{endpoint_id}/deliveries/"]
    for model in ("delivery", "webhookendpoint", "raisedevent", "subscription"):
        urls.append(f"/admin/notifications/{model}/")
    urls += [f"/admin/notifications/delivery/{pk}/change/" for pk in deliveries.values_list("pk", flat=True)[:20]]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        haystack.add(f"GET {url}", response.content.decode())


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

    subscribe_to_everything(owner)
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

    soon = timezone.now() + timedelta(days=2)
    credential_update(actor=owner, credential_id=credentials[0].pk, changes={"expires_at": soon})
    assert expiry_sweep() == 1
    client.force_login(superuser)
    notifications_sent(client, haystack, credentials)
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
