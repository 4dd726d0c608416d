"""The canary through the site's pages: every page's HTML, for every kind of user, holds no secret.

A credential of every built-in type is created through the generated forms with a unique canary
in each secret field; forms are refused with canaries in them; secrets are replaced with new
canaries, the first restored and the second's version destroyed; the credentials are shared.
Then every page is fetched by the owner, a user with *use* and a user with *view*, and every
response, log line and database row is searched.
"""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from credentials.models import Credential
from credentials.sharing import credential_share
from tests.canary import Haystack, canary_fields, dump_database
from tests.factories import BUILTIN_SLUGS, make_user
from tests.form_data import add_data, data_sent_back
from tests.pages.conftest import client_for


class RecordingClient:
    """A test client whose every response (body and headers) goes into the haystack."""

    def __init__(self, client: Client, haystack: Haystack, who: str):
        self.client, self.haystack, self.who = client, haystack, who

    def get(self, url: str):
        return self._record("GET", url, self.client.get(url))

    def post(self, url: str, data: dict):
        return self._record("POST", url, self.client.post(url, data))

    def _record(self, method: str, url: str, response):
        self.haystack.add(f"{self.who} {method} {url} body", response.content.decode())
        self.haystack.add(f"{self.who} {method} {url} headers", dict(response.headers))
        return response


def new_canary() -> str:
    return f"CANARY-{uuid.uuid4().hex}"


def page_urls(credential: Credential) -> list[str]:
    pages = [
        reverse(f"credentials:{name}", kwargs={"pk": credential.pk}) for name in ("detail", "edit", "delete", "shares")
    ]
    # Version 1 is still kept (and no longer current, once restored as version 3): its confirmation pages.
    return pages + [
        reverse(f"credentials:version-{name}", kwargs={"pk": credential.pk, "number": 1})
        for name in ("restore", "destroy")
    ]


@pytest.mark.django_db
def test_no_page_shows_a_secret(owner, caplog):
    haystack = Haystack()
    owner_pages = RecordingClient(client_for(owner), haystack, "owner")
    user, viewer = make_user("user-with-use"), make_user("user-with-view")
    secrets: set[str] = set()

    for slug in BUILTIN_SLUGS:
        create_url = reverse("credentials:create", kwargs={"type_slug": slug})
        owner_pages.get(create_url)
        # Refused (a blank name) with the secrets in the post: the re-rendered form echoes none.
        fields, planted = canary_fields(slug, new_canary())
        secrets |= planted
        refused = owner_pages.post(create_url, add_data(slug, fields, name=""))
        assert refused.status_code == 200 and "name" in refused.context["form"].errors

        fields, planted = canary_fields(slug, new_canary())
        secrets |= planted
        created = owner_pages.post(create_url, add_data(slug, fields, name=f"canary {slug}"))
        assert created.status_code == 302, slug
        credential = Credential.objects.get(name=f"canary {slug}")

        # An edit that sends new secrets with a mistake elsewhere, then one that saves them.
        edit_url = reverse("credentials:edit", kwargs={"pk": credential.pk})
        data = data_sent_back(owner_pages.get(edit_url).context["form"])
        fields, planted = canary_fields(slug, new_canary())
        secrets |= planted
        data.update({f"field__{name}": str(value) for name, value in fields.items() if not isinstance(value, bool)})
        refused = owner_pages.post(edit_url, {**data, "environment": "not a slug!"})
        assert refused.status_code == 200 and refused.context["form"].errors
        assert owner_pages.post(edit_url, data).status_code == 302, slug

        # The history: the first canaries restored (asked first), the second's version destroyed.
        credential.refresh_from_db()
        restore_url = reverse("credentials:version-restore", kwargs={"pk": credential.pk, "number": 1})
        owner_pages.get(restore_url)
        restored = owner_pages.post(restore_url, {"version": str(credential.version)})
        assert restored.status_code == 302 and Credential.objects.get(pk=credential.pk).secret_version == 3, slug
        destroy_url = reverse("credentials:version-destroy", kwargs={"pk": credential.pk, "number": 2})
        owner_pages.get(destroy_url)
        assert owner_pages.post(destroy_url, {}).status_code == 302, slug
        owner_pages.get(reverse("credentials:detail", kwargs={"pk": credential.pk}))  # and its messages

        credential_share(actor=owner, credential_id=credential.pk, permissions=["use"], user=user)
        credential_share(actor=owner, credential_id=credential.pk, permissions=["view"], user=viewer)

    for client in [
        owner_pages,
        RecordingClient(client_for(user), haystack, "use"),
        RecordingClient(client_for(viewer), haystack, "view"),
    ]:
        client.get(reverse("credentials:list"))
        client.get(reverse("credentials:choose-type"))
        for credential in Credential.objects.all():
            for url in page_urls(credential):
                client.get(url)

    haystack.add("log", caplog.text)
    dump_database(haystack, "database")
    assert len(haystack.pieces) > 150
    assert haystack.leaks(secrets) == []
    assert any("(restored from 1)" in text for _, text in haystack.pieces), "the history was not searched"
