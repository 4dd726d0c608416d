"""The secret's history on the site's pages: listed on the detail page, restored and destroyed after asking first."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.models import AuditEvent
from credentials.models import Credential, CredentialVersion
from credentials.services import credential_update
from credentials.sharing import credential_share
from tests.factories import make_credential, make_user, reveal
from tests.form_data import data_sent_back
from tests.pages.conftest import client_for

pytestmark = pytest.mark.django_db

FIRST, SECOND = "first-page-secret-01", "second-page-secret-02"


@pytest.fixture
def history(owner, credential):
    """The pages' credential with a second secret: version 2 is current, version 1 may be restored or destroyed."""
    credential_update(actor=owner, credential_id=credential.pk, changes={"fields": {"password": SECOND}})
    return Credential.objects.get(pk=credential.pk)


def detail_url(credential) -> str:
    return reverse("credentials:detail", kwargs={"pk": credential.pk})


def restore_url(credential, number: int) -> str:
    return reverse("credentials:version-restore", kwargs={"pk": credential.pk, "number": number})


def destroy_url(credential, number: int) -> str:
    return reverse("credentials:version-destroy", kwargs={"pk": credential.pk, "number": number})


def said(response) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in get_messages(response.wsgi_request)]


def written(credential) -> tuple:
    """What a refused post must leave as it was: the row's versions, its history and its events."""
    stored = Credential.objects.get(pk=credential.pk)
    versions = list(CredentialVersion.objects.filter(credential=credential).values_list("number", "destroyed_at"))
    return stored.version, stored.secret_version, versions, AuditEvent.objects.count()


def test_the_detail_page_lists_the_history_newest_first_without_values(owner_client, history):
    html = owner_client.get(detail_url(history)).content.decode()
    section = html[html.index('id="versions"') : html.index('id="history"')]
    rows = re.findall(r'<th scope="row" data-label="Version">(\d+)', section)
    assert rows == ["2", "1"]
    assert "Current" in section and "Changed" in section and "password" in section and "owner" in section
    assert f'href="{restore_url(history, 1)}"' in section and f'href="{destroy_url(history, 1)}"' in section
    # The current version can be neither restored nor destroyed: no button for it.
    assert restore_url(history, 2) not in section and destroy_url(history, 2) not in section
    assert FIRST not in html and SECOND not in html and "s3cret-value" not in html


def test_restoring_asks_first_then_restores_and_says_so(owner_client, owner, history):
    confirm = owner_client.get(restore_url(history, 1))
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Restore version 1 of “orders-db”?" in html and 'name="csrfmiddlewaretoken"' in html
    assert f'name="version" value="{history.version}"' in html
    assert written(history)[1] == 2, "a GET wrote something"

    response = owner_client.post(restore_url(history, 1), {"version": str(history.version)})

    assert response.status_code == 302 and response["Location"] == f"{detail_url(history)}#versions"
    stored = Credential.objects.get(pk=history.pk)
    assert (stored.secret_version, stored.version) == (3, history.version + 1)
    assert reveal(owner, stored)["password"] == "s3cret-value"
    assert said(response) == [("success", "Version 1 restored as version 3. Plugins use it from their next sync.")]
    page = owner_client.get(detail_url(history)).content.decode()
    assert "Rolled back (restored from 1)" in page


def test_a_restore_that_brings_back_the_hosts_says_so_in_a_warning(owner):
    bearer = make_credential(owner, "http_bearer", secret=FIRST, name="bearer")
    fields = {"base_url": "https://api2.example.com", "token": SECOND}
    credential_update(actor=owner, credential_id=bearer.pk, changes={"fields": fields})
    bearer.refresh_from_db()
    assert bearer.allowed_hosts == ["api2.example.com"]

    response = client_for(owner).post(restore_url(bearer, 1), {"version": str(bearer.version)})

    [(level, text)] = said(response)
    assert level == "warning" and "allowed hosts" in text and text.startswith("Version 1 restored as version 3.")
    assert Credential.objects.get(pk=bearer.pk).allowed_hosts == ["api.example.com"]


@pytest.mark.parametrize("posted", [{"version": "1"}, {}, {"version": "one"}])
def test_a_restore_from_a_stale_or_missing_version_writes_nothing(owner_client, owner, history, posted):
    # Someone changed the credential after the confirmation page was built from version 2.
    credential_update(actor=owner, credential_id=history.pk, changes={"description": "changed meanwhile"})
    before = written(history)

    response = owner_client.post(restore_url(history, 1), posted)

    assert response.status_code == 302
    assert written(history) == before
    [(level, text)] = said(response)
    assert level == "error" and ("changed by someone else" in text or "reload it" in text), text


def test_restoring_the_current_version_or_a_missing_one_is_refused(owner_client, history):
    before = written(history)
    assert owner_client.get(restore_url(history, 2)).status_code == 404
    assert owner_client.get(restore_url(history, 9)).status_code == 404
    current = owner_client.post(restore_url(history, 2), {"version": str(history.version)})
    assert said(current) == [("error", "Version 2 is already the current one.")]
    missing = owner_client.post(restore_url(history, 9), {"version": str(history.version)})
    # The first message was not read yet (no page shown in between): the newest is this post's.
    assert said(missing)[-1] == ("error", "Version 9 of this credential does not exist, or was destroyed.")
    assert written(history) == before


def test_destroying_asks_first_then_wipes_the_version_and_keeps_its_row(owner_client, owner, history):
    confirm = owner_client.get(destroy_url(history, 1))
    assert confirm.status_code == 200
    assert "Destroy version 1 of “orders-db”?" in confirm.content.decode()

    response = owner_client.post(destroy_url(history, 1))

    assert response.status_code == 302
    assert said(response) == [("success", "Version 1 destroyed: its encrypted secret is gone for good.")]
    version = CredentialVersion.objects.get(credential=history, number=1)
    assert version.destroyed_by == owner and version.ciphertext == ""
    page = owner_client.get(detail_url(history)).content.decode()
    section = page[page.index('id="versions"') : page.index('id="history"')]
    assert "Destroyed" in section and "by owner" in section
    assert restore_url(history, 1) not in section and destroy_url(history, 1) not in section
    # Gone for good: neither page offers it again, and a restore of it is refused.
    assert owner_client.get(restore_url(history, 1)).status_code == 404
    again = owner_client.post(restore_url(history, 1), {"version": str(Credential.objects.get().version)})
    assert said(again)[-1] == ("error", "Version 1 of this credential does not exist, or was destroyed.")


def test_destroying_the_current_version_is_refused(owner_client, history):
    before = written(history)
    response = owner_client.post(destroy_url(history, 2))
    [(level, text)] = said(response)
    assert level == "error" and text.startswith("Version 2 is the current one")
    assert written(history) == before


def test_use_and_view_see_no_buttons_and_are_refused(owner, history, user_with_use, user_with_view):
    before = written(history)
    use, view = client_for(user_with_use), client_for(user_with_view)
    assert 'id="versions"' not in use.get(detail_url(history)).content.decode()  # the history needs *view*
    page = view.get(detail_url(history)).content.decode()
    assert 'id="versions"' in page and ">Restore</a>" not in page and ">Destroy</a>" not in page
    for client in (use, view):
        for url in (restore_url(history, 1), destroy_url(history, 1)):
            assert client.get(url).status_code == 403, url
            assert client.post(url, {"version": str(history.version)}).status_code == 403, url
    assert written(history) == before


def test_change_restores_but_only_the_owner_destroys(owner, history):
    changer = make_user("changer")
    credential_share(actor=owner, credential_id=history.pk, permissions=["change"], user=changer)
    client = client_for(changer)
    page = client.get(detail_url(history)).content.decode()
    assert ">Restore</a>" in page and ">Destroy</a>" not in page
    assert client.get(destroy_url(history, 1)).status_code == 403
    assert client.post(destroy_url(history, 1)).status_code == 403
    assert CredentialVersion.objects.get(credential=history, number=1).destroyed_at is None
    response = client.post(restore_url(history, 1), {"version": str(history.version)})
    assert said(response)[0][0] == "success" and Credential.objects.get().secret_version == 3


def test_a_stranger_gets_404(history, stranger):
    client = client_for(stranger)
    for url in (restore_url(history, 1), destroy_url(history, 1)):
        assert client.get(url).status_code == 404
        assert client.post(url, {"version": str(history.version)}).status_code == 404


def test_the_confirmation_forms_need_their_csrf_token(owner, history):
    client = client_for(owner)
    client.handler.enforce_csrf_checks = True
    before = written(history)
    assert client.post(restore_url(history, 1), {"version": str(history.version)}).status_code == 403
    assert client.post(destroy_url(history, 1)).status_code == 403
    assert written(history) == before


def test_the_history_pages_carry_no_inline_script(owner_client, history):
    for url in (detail_url(history), restore_url(history, 1), destroy_url(history, 1)):
        html = owner_client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\son[a-z]+=", html) and not re.search(r"\sstyle=", html), url


# --- Versions kept, on the forms -----------------------------------------------------------------


def test_versions_kept_is_set_on_creation_and_changed_on_edit(owner_client, settings):
    settings.CREDENTIAL_MAX_VERSIONS = 10
    create = reverse("credentials:create", kwargs={"type_slug": "github_pat"})
    form = owner_client.get(create).context["form"]
    assert form["keep_versions"].label == "Versions kept" and 'max="10"' in str(form["keep_versions"])
    data = {**data_sent_back(form), "name": "kept", "field__token": FIRST, "keep_versions": "3"}
    assert owner_client.post(create, data).status_code == 302
    credential = Credential.objects.get(name="kept")
    assert credential.keep_versions == 3

    edit = reverse("credentials:edit", kwargs={"pk": credential.pk})
    data = {**data_sent_back(owner_client.get(edit).context["form"]), "keep_versions": ""}
    assert owner_client.post(edit, data).status_code == 302
    assert Credential.objects.get(pk=credential.pk).keep_versions is None


@pytest.mark.parametrize("value", ["0", "11", "two"])
def test_a_bad_versions_kept_is_named_beside_its_input(owner_client, credential, settings, value):
    settings.CREDENTIAL_MAX_VERSIONS = 10
    edit = reverse("credentials:edit", kwargs={"pk": credential.pk})
    data = {**data_sent_back(owner_client.get(edit).context["form"]), "keep_versions": value}
    response = owner_client.post(edit, data)
    assert response.status_code == 200 and "keep_versions" in response.context["form"].errors
    assert Credential.objects.get(pk=credential.pk).keep_versions is None


def test_who_may_change_but_not_delete_cannot_set_versions_kept(owner, credential):
    changer = make_user("changer")
    credential_share(actor=owner, credential_id=credential.pk, permissions=["change"], user=changer)
    client = client_for(changer)
    edit = reverse("credentials:edit", kwargs={"pk": credential.pk})
    data = {**data_sent_back(client.get(edit).context["form"]), "keep_versions": "2"}
    response = client.post(edit, data)
    assert response.status_code == 200
    assert "Only the owner or an administrator" in str(response.context["form"].non_field_errors())
    assert Credential.objects.get(pk=credential.pk).keep_versions is None
