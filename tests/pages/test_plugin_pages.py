"""The plugin pages with Django's client: who sees what, the credential picker, refusals, sync, delete.

Clones point at a closed port on loopback, so each fails fast with git's error; real clones are
tested against real git servers in tests/integration.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from audit.models import AuditAction, AuditEvent
from config.errors import QueueUnavailable
from credentials.models import Credential
from credentials.services import credential_create
from credentials.sharing import credential_share
from plugins.forms import NO_CREDENTIAL
from plugins.models import Plugin, PluginStatus
from plugins.services import plugin_register
from tests.factories import make_credential, make_user
from tests.pages.conftest import client_for

pytestmark = pytest.mark.django_db

TOKEN = "ghp_plugin-pages-token-value"
# Port 9 (discard) has no listener here: a clone is refused at once.
UNREACHABLE_REPO = "https://127.0.0.1:9/team/plugin.git"


def loopback_token(owner, name: str = "loopback-token", secret: str = TOKEN) -> Credential:
    """A GitHub token whose base URL makes 127.0.0.1 its one allowed host."""
    fields = {"token": secret, "base_url": "https://127.0.0.1:9/api/v3"}
    return credential_create(actor=owner, type_slug="github_pat", name=name, fields=fields)


@pytest.fixture
def token(owner) -> Credential:
    return loopback_token(owner)


@pytest.fixture
def plugin(owner, token) -> Plugin:
    # Outside a captured commit the clone is never queued: the plugin stays pending.
    return plugin_register(actor=owner, name="billing-hooks", repo_url=UNREACHABLE_REPO, credential_id=token.pk)


def plugin_urls(plugin: Plugin) -> dict[str, str]:
    return {name: reverse(f"plugins:{name}", kwargs={"pk": plugin.pk}) for name in ("detail", "edit", "sync", "delete")}


def register_data(chosen: Credential | None, **overrides: str) -> dict[str, str]:
    data = {
        "name": "billing-hooks",
        "repo_url": UNREACHABLE_REPO,
        "ref": "",
        "credential": str(chosen.pk) if chosen is not None else NO_CREDENTIAL,
    }
    data.update(overrides)
    return data


def offered(response) -> set[str]:
    """The credential choices a person can pick in the rendered picker, by value."""
    return response.context["form"].offered_values()


# --- Logging in and the menu ------------------------------------------------------------------------


def test_every_plugin_page_asks_for_a_login_first(client, plugin):
    urls = [reverse("plugins:list"), reverse("plugins:register"), *plugin_urls(plugin).values()]
    for url in urls:
        for response in (client.get(url), client.post(url)):
            if response.status_code == 405:  # sync takes only a POST; the POST is tested too
                continue
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("login")), url
    assert Plugin.objects.filter(pk=plugin.pk).exists()


def test_the_menu_links_to_the_plugins(owner_client):
    html = owner_client.get(reverse("credentials:list")).content.decode()
    assert f'<a href="{reverse("plugins:list")}">Plugins</a>' in html


# --- The list -------------------------------------------------------------------------------------


def test_the_list_shows_only_my_plugins(owner_client, owner, plugin, stranger):
    theirs = loopback_token(stranger, name="their-token")
    plugin_register(actor=stranger, name="not-mine", repo_url=UNREACHABLE_REPO, credential_id=theirs.pk)
    Plugin.objects.filter(pk=plugin.pk).update(
        status=PluginStatus.INSTALLED, commit="0123456789abcdef0123456789abcdef01234567", ref="main"
    )

    response = owner_client.get(reverse("plugins:list"))
    html = response.content.decode()
    assert [p.name for p in response.context["page"]] == ["billing-hooks"]
    assert "not-mine" not in html and "their-token" not in html
    assert UNREACHABLE_REPO in html and "loopback-token" in html and "<code>main</code>" in html
    assert '<span class="badge ok">Installed</span>' in html
    assert ">0123456789</code>" in html  # the short commit
    assert reverse("plugins:register") in html
    assert ">Owner</th>" not in html


def test_a_superuser_sees_every_plugin_with_its_owner(superuser, plugin, stranger):
    theirs = loopback_token(stranger, name="their-token")
    plugin_register(actor=stranger, name="theirs", repo_url=UNREACHABLE_REPO, credential_id=theirs.pk)
    html = client_for(superuser).get(reverse("plugins:list")).content.decode()
    assert "billing-hooks" in html and "theirs" in html and ">Owner</th>" in html


def test_the_list_costs_the_same_queries_for_three_rows_or_thirty(owner_client, owner, token):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(reverse("plugins:list")).status_code == 200
        return len(captured)

    def register(count: int, start: int) -> None:
        for index in range(start, start + count):
            plugin_register(actor=owner, name=f"plugin-{index}", repo_url=UNREACHABLE_REPO, credential_id=token.pk)

    register(3, 0)
    few = queries()
    register(27, 3)
    assert queries() == few


def test_an_empty_list_invites_a_registration(owner_client):
    html = owner_client.get(reverse("plugins:list")).content.decode()
    assert "You have registered no plugins yet" in html


# --- The register form's credential picker ---------------------------------------------------------


def test_the_picker_offers_only_credentials_i_may_use_that_can_clone(owner):
    me = make_user("me")
    mine = loopback_token(me, name="my-token")
    ssh_key = make_credential(me, "ssh_key", name="my-key")
    make_credential(me, "postgres", name="my-database")  # cannot clone
    Credential.objects.filter(pk=make_credential(me, "gitlab_pat", name="switched-off").pk).update(is_active=False)
    shared_for_use = make_credential(owner, "gitlab_pat", name="shared-for-use")
    credential_share(actor=owner, credential_id=shared_for_use.pk, permissions=["use"], user=me)
    shared_for_view = make_credential(owner, "github_pat", name="shared-for-view")
    credential_share(actor=owner, credential_id=shared_for_view.pk, permissions=["view"], user=me)
    make_credential(owner, "github_pat", name="someone-elses")

    response = client_for(me).get(reverse("plugins:register"))
    assert offered(response) == {NO_CREDENTIAL, str(mine.pk), str(ssh_key.pk), str(shared_for_use.pk)}
    html = response.content.decode()
    for absent in ("my-database", "switched-off", "shared-for-view", "someone-elses"):
        assert absent not in html
    # Each option names the credential, its environment, type and hosts, and carries them for the script.
    assert "my-token (production) · GitHub personal access token · 127.0.0.1" in html
    assert re.search(rf'<option value="{mine.pk}" data-transport="https" data-hosts="127.0.0.1">', html)
    assert re.search(rf'<option value="{ssh_key.pk}" data-transport="ssh" data-hosts="git.example.com">', html)
    assert "None (public repository)" in html
    assert 'for="id_credential"' in html and 'aria-describedby="id_credential_helptext"' in html
    assert 'src="/static/latchkey/plugin_form.js"' in html


def test_after_a_refusal_only_credentials_fitting_the_url_are_offered(owner_client, owner, token):
    github = make_credential(owner, "github_pat", name="github-token")  # github.com, not 127.0.0.1
    ssh_key = make_credential(owner, "ssh_key", name="deploy-key")  # git.example.com over SSH

    https = owner_client.post(reverse("plugins:register"), register_data(token, name=""))
    assert "name" in https.context["form"].errors
    assert offered(https) == {NO_CREDENTIAL, str(token.pk)}

    ssh = owner_client.post(
        reverse("plugins:register"), register_data(ssh_key, name="", repo_url="git@git.example.com:team/plugin.git")
    )
    assert offered(ssh) == {str(ssh_key.pk)}  # no public repositories over SSH

    unparsed = owner_client.post(reverse("plugins:register"), register_data(None, name="", repo_url="not a url"))
    assert "repo_url" in unparsed.context["form"].errors
    assert offered(unparsed) == {NO_CREDENTIAL, str(token.pk), str(github.pk), str(ssh_key.pk)}
    assert not Plugin.objects.exists()


# --- Refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repo_url", "credential_slug", "field"),
    [
        ("ssh://git@127.0.0.1:9/team/plugin.git", "loopback", "credential"),  # a token cannot clone over SSH
        ("https://git.example.com/team/plugin.git", "ssh_key", "credential"),  # a key cannot clone over HTTPS
        ("https://github.example.org/team/plugin.git", "loopback", "repo_url"),  # not among its allowed hosts
        ("git@git.example.com:team/plugin.git", None, "credential"),  # SSH needs a key
        ("file:///etc/passwd", None, "repo_url"),
    ],
)
def test_a_credential_that_does_not_fit_is_refused_beside_its_field_and_nothing_is_written(
    owner_client, owner, token, repo_url, credential_slug, field
):
    credential = {"loopback": token, "ssh_key": make_credential(owner, "ssh_key"), None: None}[credential_slug]
    before = (Plugin.objects.count(), AuditEvent.objects.count())
    response = owner_client.post(reverse("plugins:register"), register_data(credential, repo_url=repo_url))
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert "Select a valid choice" not in str(form.errors)  # the service's reason, not the picker's
    html = response.content.decode()
    assert f'<ul class="errorlist" id="id_{field}_error">' in html
    assert re.search(rf'<(input|select)[^>]*aria-describedby="[^"]*id_{field}_error', html)
    assert escape(repo_url) in html and 'value="billing-hooks"' in html  # what was typed is kept
    assert (Plugin.objects.count(), AuditEvent.objects.count()) == before


def test_a_credential_shared_only_for_view_is_refused_even_when_posted(owner):
    viewer = make_user("viewer")
    viewed = loopback_token(owner, name="viewed")
    credential_share(actor=owner, credential_id=viewed.pk, permissions=["view"], user=viewer)
    response = client_for(viewer).post(reverse("plugins:register"), register_data(viewed))
    assert response.status_code == 200 and "credential" in response.context["form"].errors
    assert not Plugin.objects.exists()


def test_choosing_nothing_asks_for_a_choice(owner_client, token):
    response = owner_client.post(reverse("plugins:register"), register_data(token, credential=""))
    assert "Choose a credential, or None for a public repository." in response.context["form"].errors["credential"]
    assert not Plugin.objects.exists()


def test_a_name_already_taken_is_refused_beside_the_name(owner_client, plugin, token):
    response = owner_client.post(reverse("plugins:register"), register_data(token, name="Billing-Hooks"))
    assert response.context["form"].errors["name"] == ["You already have a plugin with this name."]
    assert Plugin.objects.count() == 1


def test_a_queue_that_is_down_is_a_message_and_the_form_stays_filled_in(owner_client, token, monkeypatch):
    def down(**kwargs):
        raise QueueUnavailable()

    monkeypatch.setattr("plugins.views.editing.plugin_register", down)
    response = owner_client.post(reverse("plugins:register"), register_data(token, ref="v1.2"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "The task queue is unavailable; try again in a minute." in html
    assert 'value="v1.2"' in html


# --- Registering, and the detail page -----------------------------------------------------------


def test_a_failed_clone_shows_its_redacted_error_on_the_detail_page(
    owner_client, owner, token, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("plugins:register"), register_data(token, ref="main"))
    plugin = Plugin.objects.get()
    assert response.status_code == 302 and response["Location"] == plugin_urls(plugin)["detail"]
    assert (plugin.owner, plugin.credential, plugin.ref) == (owner, token, "main")
    assert plugin.status == PluginStatus.FAILED and plugin.last_error

    html = owner_client.get(response["Location"]).content.decode()
    assert '<span class="badge bad">Failed</span>' in html
    assert escape(plugin.last_error) in html and "Last error" in html
    assert 'http-equiv="refresh"' not in html  # it is over: no more reloading
    assert f'href="{reverse("credentials:detail", kwargs={"pk": token.pk})}"' in html
    assert TOKEN not in html
    assert "registered" in html  # the message of the redirect


@pytest.mark.django_db(transaction=True)
def test_a_clone_that_already_failed_is_announced_as_a_failure_not_a_green_registered(owner, token, eager_tasks):
    # As in the embedded default: no transaction around the request, tasks in-process.
    response = client_for(owner).post(reverse("plugins:register"), register_data(token, ref="main"), follow=True)
    plugin = Plugin.objects.get()
    assert plugin.status == PluginStatus.FAILED
    [(level, text)] = re.findall(r'<li class="message ([a-z ]+)">([^<]*)</li>', response.content.decode())
    assert level == "error"
    assert text.startswith("Plugin “billing-hooks” registered, but it failed: ")
    assert TOKEN not in response.content.decode()


def test_a_public_repository_needs_no_credential(owner_client, eager_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("plugins:register"), register_data(None))
    plugin = Plugin.objects.get()
    assert response.status_code == 302 and plugin.credential is None
    assert "None (public repository)" in owner_client.get(response["Location"]).content.decode()


def test_the_detail_page_reloads_itself_while_the_clone_runs(owner_client, plugin):
    assert plugin.status == PluginStatus.PENDING
    html = owner_client.get(plugin_urls(plugin)["detail"]).content.decode()
    assert '<meta http-equiv="refresh" content="3">' in html
    assert '<span class="badge busy">Pending</span>' in html
    assert re.search(r'<button type="submit" class="button" disabled>Sync</button>', html)


def test_the_detail_page_links_the_credential_only_for_one_who_may_see_it(owner, superuser):
    # A plugin registered with a shared credential, after which the share is taken back.
    user = make_user("user")
    shared = loopback_token(owner, name="shared")
    credential_share(actor=owner, credential_id=shared.pk, permissions=["use"], user=user)
    plugin = plugin_register(actor=user, name="p", repo_url=UNREACHABLE_REPO, credential_id=shared.pk)
    from credentials.sharing import credential_unshare

    credential_unshare(actor=owner, credential_id=shared.pk, permissions=["use"], user=user)
    credential_link = f'href="{reverse("credentials:detail", kwargs={"pk": shared.pk})}"'
    html = client_for(user).get(plugin_urls(plugin)["detail"]).content.decode()
    assert "shared" in html and credential_link not in html
    assert credential_link in client_for(superuser).get(plugin_urls(plugin)["detail"]).content.decode()


# --- Sync, edit and delete ------------------------------------------------------------------------


def test_sync_queues_a_new_run_and_the_page_shows_its_result(
    owner_client, plugin, eager_tasks, django_capture_on_commit_callbacks
):
    Plugin.objects.filter(pk=plugin.pk).update(status=PluginStatus.FAILED, last_error="old error")
    url = plugin_urls(plugin)["sync"]
    assert owner_client.get(url).status_code == 405  # only a POST starts a sync
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url)
    assert response.status_code == 302 and response["Location"] == plugin_urls(plugin)["detail"]
    synced = Plugin.objects.get(pk=plugin.pk)
    assert synced.run != plugin.run and synced.status == PluginStatus.FAILED
    assert synced.last_error != "old error"
    assert "Sync requested; it is running" in owner_client.get(response["Location"]).content.decode()


def test_sync_with_the_queue_down_says_so(owner_client, plugin, monkeypatch):
    def down(**kwargs):
        raise QueueUnavailable()

    monkeypatch.setattr("plugins.views.actions.plugin_sync_request", down)
    response = owner_client.post(plugin_urls(plugin)["sync"], follow=True)
    assert response.status_code == 200
    assert "The task queue is unavailable" in response.content.decode()


def test_delete_asks_first_then_removes_the_row(owner_client, plugin, token):
    url = plugin_urls(plugin)["delete"]
    confirm = owner_client.get(url).content.decode()
    assert "Delete “billing-hooks”?" in confirm and "loopback-token" in confirm
    assert Plugin.objects.filter(pk=plugin.pk).exists()
    response = owner_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("plugins:list")
    assert not Plugin.objects.filter(pk=plugin.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.PLUGIN_UNLINKED, credential_ref=str(token.pk)).exists()
    assert "deleted" in owner_client.get(response["Location"]).content.decode()


def test_editing_moves_the_plugin_to_another_credential(owner_client, owner, plugin, token):
    other = loopback_token(owner, name="second-token")
    url = plugin_urls(plugin)["edit"]
    page = owner_client.get(url)
    assert page.context["form"]["credential"].value() == str(token.pk)
    assert offered(page) == {NO_CREDENTIAL, str(token.pk), str(other.pk)}
    response = owner_client.post(url, {"name": "billing-hooks", "ref": "v2", "credential": str(other.pk)})
    assert response.status_code == 302
    plugin.refresh_from_db()
    assert (plugin.credential, plugin.ref) == (other, "v2")
    # The first credential is free again: nothing protects it from deletion.
    assert owner_client.post(reverse("credentials:delete", kwargs={"pk": token.pk})).status_code == 302
    assert not Credential.objects.filter(pk=token.pk).exists()


def test_an_edit_keeps_a_credential_i_may_no_longer_use_unless_i_move(owner):
    from credentials.sharing import credential_unshare

    user = make_user("user")
    shared = loopback_token(owner, name="shared")
    credential_share(actor=owner, credential_id=shared.pk, permissions=["use"], user=user)
    plugin = plugin_register(actor=user, name="p", repo_url=UNREACHABLE_REPO, credential_id=shared.pk)
    credential_unshare(actor=owner, credential_id=shared.pk, permissions=["use"], user=user)

    client = client_for(user)
    url = plugin_urls(plugin)["edit"]
    response = client.post(url, {"name": "renamed", "ref": "", "credential": str(shared.pk)})
    assert response.status_code == 302
    plugin.refresh_from_db()
    assert (plugin.name, plugin.credential) == ("renamed", shared)

    refused = client.post(url, {"name": "renamed", "ref": "not a ref..", "credential": str(shared.pk)})
    assert "ref" in refused.context["form"].errors


# --- Strangers, CSRF, and the page's markup --------------------------------------------------------


def test_a_stranger_gets_404_on_every_page_and_post(plugin, stranger):
    client = client_for(stranger)
    for name, url in plugin_urls(plugin).items():
        assert client.get(url).status_code == (405 if name == "sync" else 404), name
        if name != "detail":
            assert client.post(url, {"name": "x", "ref": "", "credential": NO_CREDENTIAL}).status_code == 404, name
    missing = reverse("plugins:detail", kwargs={"pk": uuid.uuid4()})
    assert client_for(plugin.owner).get(missing).status_code == 404
    plugin_after = Plugin.objects.get(pk=plugin.pk)
    assert (plugin_after.name, plugin_after.run) == (plugin.name, plugin.run)


def test_every_plugin_form_needs_its_csrf_token(owner, plugin, token):
    client = client_for(owner)
    client.handler.enforce_csrf_checks = True
    urls = plugin_urls(plugin)
    for url, data in [
        (reverse("plugins:register"), register_data(token, name="another")),
        (urls["edit"], {"name": "x", "ref": "", "credential": NO_CREDENTIAL}),
        (urls["sync"], {}),
        (urls["delete"], {}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert list(Plugin.objects.values_list("name", "run")) == [(plugin.name, plugin.run)]
    page = client.get(urls["detail"]).content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 2  # the sync form and the log-out form


def test_no_plugin_page_carries_an_inline_script_or_style(owner_client, plugin, token):
    Plugin.objects.filter(pk=plugin.pk).update(status=PluginStatus.FAILED, last_error="fatal: <style> & on=x")
    urls = [
        reverse("plugins:list"),
        reverse("plugins:register"),
        plugin_urls(plugin)["detail"],
        plugin_urls(plugin)["edit"],
        plugin_urls(plugin)["delete"],
        reverse("credentials:detail", kwargs={"pk": token.pk}),
        reverse("credentials:delete", kwargs={"pk": token.pk}),
    ]
    for url in urls:
        response = owner_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\son[a-z]+=", html), url
        assert not re.search(r"\sstyle=", html), url
        assert "unsafe-inline" not in response["Content-Security-Policy"], url


# --- The credential's pages: what uses it, and deleting it ----------------------------------------


def test_the_credential_page_lists_its_plugins_linking_those_i_may_open(owner, superuser):
    user = make_user("user")
    shared = loopback_token(owner, name="shared")
    credential_share(actor=owner, credential_id=shared.pk, permissions=["use", "view"], user=user)
    theirs = plugin_register(actor=user, name="their-plugin", repo_url=UNREACHABLE_REPO, credential_id=shared.pk)
    detail = reverse("credentials:detail", kwargs={"pk": shared.pk})
    plugin_link = f'href="{plugin_urls(theirs)["detail"]}"'

    owner_view = client_for(owner).get(detail).content.decode()
    assert "their-plugin" in owner_view and UNREACHABLE_REPO in owner_view
    assert plugin_link not in owner_view  # the credential's owner may not open another's plugin
    assert "Not yet" in owner_view  # no sync used it so far
    assert plugin_link in client_for(user).get(detail).content.decode()
    assert plugin_link in client_for(superuser).get(detail).content.decode()


def test_a_credential_in_use_cannot_be_deleted_from_its_page(owner_client, owner, plugin, token):
    url = reverse("credentials:delete", kwargs={"pk": token.pk})
    confirm = owner_client.get(url).content.decode()
    assert "billing-hooks" in confirm and f'href="{plugin_urls(plugin)["detail"]}"' in confirm
    assert "cannot be deleted until these plugins are removed or moved to another credential" in confirm
    assert ">Delete</button>" not in confirm

    before = AuditEvent.objects.count()
    response = owner_client.post(url)
    assert response.status_code == 302 and response["Location"] == url
    assert Credential.objects.filter(pk=token.pk).exists()
    assert AuditEvent.objects.count() == before
    message = owner_client.get(url).content.decode()
    assert "This credential is used by plugin “billing-hooks”" in message
