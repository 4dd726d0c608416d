"""The plugin admin writes through the services, and the credential admin refuses to delete a credential in use."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from config.errors import QueueUnavailable
from credentials.admin.credential import CredentialAdmin
from credentials.models import Credential
from credentials.services import credential_create
from credentials.sharing import credential_share
from plugins.models import Plugin, PluginStatus
from plugins.services import plugin_register
from tests.factories import make_credential, make_user

pytestmark = pytest.mark.django_db

TOKEN = "ghp_plugin-admin-token-value"
UNREACHABLE_REPO = "https://127.0.0.1:9/team/plugin.git"  # nothing listens on port 9: a clone fails at once


def loopback_token(owner, name: str = "loopback-token") -> Credential:
    fields = {"token": TOKEN, "base_url": "https://127.0.0.1:9/api/v3"}
    return credential_create(actor=owner, type_slug="github_pat", name=name, fields=fields)


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def token(superuser) -> Credential:
    return loopback_token(superuser)


@pytest.fixture
def plugin(superuser, token) -> Plugin:
    return plugin_register(actor=superuser, name="billing-hooks", repo_url=UNREACHABLE_REPO, credential_id=token.pk)


def changelist_url(model: str = "plugin") -> str:
    app = "plugins" if model == "plugin" else "credentials"
    return reverse(f"admin:{app}_{model}_changelist")


def form_errors(response) -> dict[str, list[str]]:
    context = getattr(response, "context", None)
    if not context or "adminform" not in context:
        return {}
    return {name: list(errors) for name, errors in context["adminform"].form.errors.items()}


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- The plugin admin ------------------------------------------------------------------------------


def test_the_changelist_shows_plugins_with_their_state(staff_client, plugin):
    Plugin.objects.filter(pk=plugin.pk).update(
        status=PluginStatus.INSTALLED, commit="abcdef0123456789" * 2 + "abcdef01"
    )
    response = staff_client.get(changelist_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "billing-hooks" in html and UNREACHABLE_REPO in html and "loopback-token" in html
    assert "abcdef0123" in html and "abcdef0123456789abcdef" not in html  # the short commit
    assert staff_client.get(changelist_url(), {"status__exact": "failed"}).context["cl"].result_count == 0
    assert staff_client.get(changelist_url(), {"q": "billing"}).context["cl"].result_count == 1


def test_staff_who_are_not_superusers_see_only_their_own_plugins(client, plugin):
    from django.contrib.auth.models import Permission

    staff = make_user("staff", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="_plugin"))
    client.force_login(staff)
    assert client.get(changelist_url()).context["cl"].result_count == 0
    change = reverse("admin:plugins_plugin_change", args=[plugin.pk])
    assert client.get(change).status_code == 302  # Django's "does not exist" redirect, never the plugin


def test_the_add_form_offers_only_credentials_that_can_clone(staff_client, token, superuser):
    database = make_credential(superuser, "postgres", name="a-database")
    response = staff_client.get(reverse("admin:plugins_plugin_add"))
    assert response.status_code == 200
    choices = {str(value) for value, _ in response.context["adminform"].form.fields["credential"].choices}
    assert str(token.pk) in choices and str(database.pk) not in choices
    html = response.content.decode()
    assert "None (public repository)" in html and "loopback-token (production) · GitHub personal access token" in html


def test_adding_goes_through_the_service(
    staff_client, superuser, token, eager_tasks, django_capture_on_commit_callbacks
):
    data = {"name": "from-admin", "repo_url": UNREACHABLE_REPO, "ref": "main", "credential": str(token.pk)}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:plugins_plugin_add"), data)
    assert response.status_code == 302, form_errors(response)
    plugin = Plugin.objects.get(name="from-admin")
    assert (plugin.owner, plugin.credential, plugin.ref) == (superuser, token, "main")
    assert plugin.status == PluginStatus.FAILED and plugin.last_error  # the clone ran, and failed
    assert AuditEvent.objects.filter(action=AuditAction.PLUGIN_LINKED, credential_ref=str(token.pk)).count() == 1
    page = staff_client.get(reverse("admin:plugins_plugin_change", args=[plugin.pk])).content.decode()
    assert "Could not connect" in page and TOKEN not in page


def test_adding_records_the_actor_and_the_client_address(staff_client, superuser, token, settings):
    settings.TRUSTED_PROXY_COUNT = 1  # the address is client_ip's answer, not the proxy's REMOTE_ADDR
    data = {"name": "with-address", "repo_url": UNREACHABLE_REPO, "ref": "main", "credential": str(token.pk)}
    proxied = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.9"}
    response = staff_client.post(reverse("admin:plugins_plugin_add"), data, **proxied)
    assert response.status_code == 302, form_errors(response)
    event = AuditEvent.objects.get(action=AuditAction.PLUGIN_LINKED, credential_ref=str(token.pk))
    assert (event.actor, event.ip) == (superuser, "198.51.100.9")


@pytest.mark.parametrize(
    ("repo_url", "field"),
    [
        ("ftp://example.com/x.git", "repo_url"),
        ("https://github.example.org/team/plugin.git", "repo_url"),  # not among the credential's hosts
        ("ssh://git@127.0.0.1:9/team/plugin.git", "credential"),  # a token cannot clone over SSH
    ],
)
def test_a_refused_add_shows_the_services_errors_beside_the_fields(staff_client, token, repo_url, field):
    before = (Plugin.objects.count(), AuditEvent.objects.count(), LogEntry.objects.count())
    data = {"name": "bad", "repo_url": repo_url, "ref": "", "credential": str(token.pk)}
    response = staff_client.post(reverse("admin:plugins_plugin_add"), data)
    assert response.status_code == 200
    assert field in form_errors(response), form_errors(response)
    assert (Plugin.objects.count(), AuditEvent.objects.count(), LogEntry.objects.count()) == before


def test_a_queue_that_is_down_is_an_error_on_the_add_form(staff_client, token, monkeypatch):
    def down(**kwargs):
        raise QueueUnavailable()

    monkeypatch.setattr("plugins.admin.plugin_register", down)
    data = {"name": "queued", "repo_url": UNREACHABLE_REPO, "ref": "", "credential": str(token.pk)}
    response = staff_client.post(reverse("admin:plugins_plugin_add"), data)
    assert response.status_code == 200
    assert "The task queue is unavailable" in response.content.decode()
    assert not Plugin.objects.exists()


def test_system_fields_are_read_only_and_a_change_goes_through_the_service(staff_client, superuser, plugin, token):
    other = loopback_token(superuser, name="second-token")
    url = reverse("admin:plugins_plugin_change", args=[plugin.pk])
    form = staff_client.get(url).context["adminform"].form
    assert set(form.fields) == {"name", "ref", "credential"}
    response = staff_client.post(
        url, {"name": "billing-hooks", "ref": "v2", "credential": str(other.pk), "status": "installed"}
    )
    assert response.status_code == 302, form_errors(response)
    plugin.refresh_from_db()
    assert (plugin.ref, plugin.credential, plugin.status) == ("v2", other, PluginStatus.PENDING)
    moved = AuditEvent.objects.filter(action=AuditAction.PLUGIN_UNLINKED, credential_ref=str(token.pk))
    assert moved.get().details["reason"] == "moved"


def test_the_sync_action_queues_each_selected_plugin(
    staff_client, plugin, eager_tasks, django_capture_on_commit_callbacks
):
    Plugin.objects.filter(pk=plugin.pk).update(status=PluginStatus.FAILED)  # not under way: a new run starts
    data = {"action": "sync_selected", "_selected_action": [str(plugin.pk)]}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(changelist_url(), data, follow=True)
    assert "1 sync(s) queued" in " ".join(messages_of(response))
    synced = Plugin.objects.get(pk=plugin.pk)
    assert synced.run != plugin.run and synced.status == PluginStatus.FAILED


def test_the_sync_action_says_when_the_queue_is_down(staff_client, plugin, monkeypatch):
    def down(**kwargs):
        raise QueueUnavailable()

    monkeypatch.setattr("plugins.admin.plugin_sync_request", down)
    data = {"action": "sync_selected", "_selected_action": [str(plugin.pk)]}
    response = staff_client.post(changelist_url(), data, follow=True)
    assert "The task queue is unavailable" in " ".join(messages_of(response))


def test_deleting_goes_through_the_service(staff_client, plugin, token):
    url = reverse("admin:plugins_plugin_delete", args=[plugin.pk])
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Plugin.objects.exists()
    unlinked = AuditEvent.objects.get(action=AuditAction.PLUGIN_UNLINKED, credential_ref=str(token.pk))
    assert unlinked.details["reason"] == "deleted"


def test_bulk_delete_goes_through_the_service(staff_client, superuser, plugin, token):
    second = plugin_register(actor=superuser, name="second", repo_url=UNREACHABLE_REPO, credential_id=token.pk)
    data = {"action": "delete_selected", "_selected_action": [str(plugin.pk), str(second.pk)], "post": "yes"}
    response = staff_client.post(changelist_url(), data)
    assert response.status_code == 302
    assert not Plugin.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.PLUGIN_UNLINKED).count() == 2


# --- Deleting a credential that a plugin uses --------------------------------------------------------


def test_the_credential_admin_refuses_to_delete_a_credential_in_use(staff_client, plugin, token):
    url = reverse("admin:credentials_credential_delete", args=[token.pk])
    confirm = staff_client.get(url)
    html = confirm.content.decode()
    assert confirm.status_code == 200 and "billing-hooks" in html
    assert "move them to another credential first" in html
    response = staff_client.post(url, {"post": "yes"})
    assert response.status_code == 200  # the same refusal, not a deletion
    assert Credential.objects.filter(pk=token.pk).exists()
    assert not LogEntry.objects.exists()


def test_the_credential_admins_bulk_delete_refuses_a_credential_in_use(staff_client, superuser, plugin, token):
    free = make_credential(superuser, "redis", name="free")
    data = {"action": "delete_selected", "_selected_action": [str(token.pk), str(free.pk)], "post": "yes"}
    response = staff_client.post(changelist_url("credential"), data)
    assert response.status_code == 200
    assert "move them to another credential first" in response.content.decode()
    assert Credential.objects.filter(pk__in=[token.pk, free.pk]).count() == 2


def test_a_plugin_registered_after_the_check_still_stops_the_deletion(staff_client, plugin, token, monkeypatch):
    # As if the plugin were registered between the confirmation page's check and the deletion.
    monkeypatch.setattr(CredentialAdmin, "get_deleted_objects", lambda self, objs, request: ([], {}, set(), []))
    single = staff_client.post(reverse("admin:credentials_credential_delete", args=[token.pk]), {"post": "yes"})
    assert single.status_code == 302
    assert single["Location"] == reverse("admin:credentials_credential_change", args=[token.pk])
    page = staff_client.get(single["Location"])
    assert "This credential is used by plugin “billing-hooks”" in " ".join(messages_of(page))

    data = {"action": "delete_selected", "_selected_action": [str(token.pk)], "post": "yes"}
    bulk = staff_client.post(changelist_url("credential"), data, follow=True)
    assert bulk.status_code == 200
    assert "This credential is used by plugin “billing-hooks”" in " ".join(messages_of(bulk))
    assert Credential.objects.filter(pk=token.pk).exists()
    assert not LogEntry.objects.exists()  # the refused deletions left no "deleted" entries


def test_a_credential_shared_for_use_may_be_picked_by_its_user_in_the_admin(client, superuser, token):
    from django.contrib.auth.models import Permission

    staff = make_user("staff", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="_plugin"))
    credential_share(actor=superuser, credential_id=token.pk, permissions=["use"], user=staff)
    hidden = loopback_token(superuser, name="not-shared")
    client.force_login(staff)
    form = client.get(reverse("admin:plugins_plugin_add")).context["adminform"].form
    choices = {str(value) for value, _ in form.fields["credential"].choices}
    assert str(token.pk) in choices and str(hidden.pk) not in choices
