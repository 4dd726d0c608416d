"""The admin's credential change page: the secret's history as a read-only inline, and "Versions kept" on the form."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from credentials.models import Credential, CredentialVersion
from credentials.services import credential_update
from credentials.versions.services import credential_rollback, credential_version_destroy
from tests.factories import make_credential
from tests.form_data import data_sent_back

pytestmark = pytest.mark.django_db

FIRST, SECOND = "first-admin-secret-01", "second-admin-secret-02"


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def history(superuser):
    """Version 1 (created), 2 (changed, then destroyed) and 3 (restored from 1, current)."""
    credential = make_credential(superuser, "github_pat", secret=FIRST, name="versioned")
    credential_update(actor=superuser, credential_id=credential.pk, changes={"fields": {"token": SECOND}})
    credential_rollback(actor=superuser, credential_id=credential.pk, number=1)
    credential_version_destroy(actor=superuser, credential_id=credential.pk, number=2)
    return Credential.objects.get(pk=credential.pk)


def change_url(credential: Credential) -> str:
    return reverse("admin:credentials_credential_change", args=[credential.pk])


def inline_rows(html: str) -> list[str]:
    start = html.index("History of the secret")
    return re.findall(r'<tr class="form-row[^"]*"[^>]*>(.*?)</tr>', html[start:], flags=re.S)


def test_the_change_page_shows_every_version_read_only_and_no_ciphertext(staff_client, history):
    response = staff_client.get(change_url(history))
    assert response.status_code == 200
    html = response.content.decode()
    rows = inline_rows(html)
    assert len(rows) == 3
    text = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]
    # Each row opens with the version's name, then its number: newest first; 3 was restored from 1.
    assert text[0].startswith("version 3 3 Rolled back 1 token ") and "root" in text[0]
    assert text[1].startswith("version 2 2 Changed - token ")
    assert text[2].startswith("version 1 1 Created - ")
    # The destroyed version says when and by whom; its key id is gone with its token.
    destroyed = CredentialVersion.objects.get(credential=history, number=2)
    assert destroyed.ciphertext == "" and destroyed.destroyed_by is not None
    assert text[1].count("root") == 2
    for version in CredentialVersion.objects.filter(credential=history):
        if version.ciphertext:
            assert version.ciphertext not in html
    assert FIRST not in html and SECOND not in html
    # Read-only: no inputs for the versions, no add row, no delete box.
    assert 'name="versions-0-number"' not in html and "versions-__prefix__" not in html
    assert 'name="versions-MAX_NUM_FORMS" value="0"' in html and "versions-0-DELETE" not in html


def test_saving_the_change_page_ignores_the_inline_it_showed(staff_client, history):
    page = staff_client.get(change_url(history))
    data = data_sent_back(page.context["adminform"].form)
    data["description"] = "edited"
    response = staff_client.post(change_url(history), data)
    assert response.status_code == 302
    assert Credential.objects.get(pk=history.pk).description == "edited"
    assert CredentialVersion.objects.filter(credential=history).count() == 3


def test_versions_kept_is_on_the_admin_form(staff_client, history, settings):
    settings.CREDENTIAL_MAX_VERSIONS = 10
    page = staff_client.get(change_url(history))
    data = data_sent_back(page.context["adminform"].form)
    assert "keep_versions" in data
    response = staff_client.post(change_url(history), {**data, "keep_versions": "2"})
    assert response.status_code == 302
    assert Credential.objects.get(pk=history.pk).keep_versions == 2
    # Keeping two deletes the oldest beyond them.
    assert list(CredentialVersion.objects.filter(credential=history).values_list("number", flat=True)) == [3, 2]
    refused = staff_client.post(
        change_url(history), {**data, "version": str(history.version + 1), "keep_versions": "11"}
    )
    assert refused.status_code == 200
    assert "keep_versions" in refused.context["adminform"].form.errors
