"""The plugins API: registration's checks (400, nothing written), visibility (404), the credential it protects (409)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from credentials.models import Credential
from credentials.services import credential_create
from credentials.sharing import credential_share
from plugins.models import Plugin, PluginStatus
from plugins.paths import checkout_path
from tests.factories import make_credential, make_user

pytestmark = pytest.mark.django_db

# Nothing listens on port 9 (discard) here: a clone there fails at once, with git's own message.
UNREACHABLE = "https://127.0.0.1:9"


def _token(owner, name: str, secret: str = "t0ken-deploy", **extra):
    """A GitHub token for a server at UNREACHABLE, so 127.0.0.1 is its allowed host."""
    fields = {"token": secret, "base_url": UNREACHABLE}
    return credential_create(actor=owner, type_slug="github_pat", name=name, fields=fields, **extra)


class Committing:
    """A test client whose every request runs its on-commit callbacks (the queued task), as a real one would."""

    def __init__(self, client, capture):
        self._client = client
        self._capture = capture

    def __getattr__(self, verb):
        def request(*args, **kwargs):
            with self._capture(execute=True):
                return getattr(self._client, verb)(*args, **kwargs)

        return request


@pytest.fixture
def api(api_client, django_capture_on_commit_callbacks):
    return Committing(api_client, django_capture_on_commit_callbacks)


@pytest.fixture
def token(owner):
    return _token(owner, "deploy")


def _register(client, **body):
    body.setdefault("name", "tools")
    body.setdefault("repo_url", f"{UNREACHABLE}/org/tools.git")
    return client.post("/api/plugins/", body, format="json")


def _linked_events() -> int:
    return AuditEvent.objects.filter(action=AuditAction.PLUGIN_LINKED).count()


def test_registration_answers_202_and_the_task_records_the_failed_clone(api, token, eager_tasks):
    response = _register(api, credential=str(token.pk), ref="main")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert response["Location"] == body["status_url"] == f"/api/plugins/{body['id']}/"
    assert body["credential"] == {"id": str(token.pk), "name": "deploy", "environment": "production"}
    plugin = Plugin.objects.get(pk=body["id"])
    assert plugin.status == PluginStatus.FAILED
    assert plugin.last_error and "t0ken-deploy" not in plugin.last_error
    assert plugin.run is None and plugin.credential_used_at is not None
    assert not checkout_path(plugin.pk).exists()
    event = AuditEvent.objects.get(action=AuditAction.PLUGIN_LINKED)
    assert event.credential_ref == str(token.pk) and event.details["plugin"] == str(plugin.pk)
    accessed = AuditEvent.objects.get(action=AuditAction.ACCESSED, credential_ref=str(token.pk))
    assert accessed.service == "plugins" and accessed.details["plugin"] == str(plugin.pk)


def test_a_credential_may_be_named_by_name_and_environment(api, owner, eager_tasks):
    credential = _token(owner, "ci", environment="staging")
    response = _register(api, credential_name="ci", credential_environment="staging")
    assert response.status_code == 202, response.json()
    assert response.json()["credential"]["id"] == str(credential.pk)


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"name": ""}, "name", "may not be blank"),
        ({"repo_url": "http://127.0.0.1:9/org/tools.git"}, "repo_url", ""),
        ({"repo_url": "file:///etc"}, "repo_url", ""),
        ({"repo_url": "https://user:pw@127.0.0.1:9/x.git"}, "repo_url", ""),
        ({"ref": "--upload-pack=evil"}, "ref", ""),
        ({"ref": "a..b"}, "ref", ""),
        ({"credential": str(uuid.uuid4())}, "credential", "No credential you may use"),
        ({"credential_name": "nope"}, "credential", "No credential you may use"),
        ({"unexpected": 1}, "unexpected", "Unknown field"),
        ({"repo_url": "ssh://git@127.0.0.1:9/org/tools.git"}, "credential", "SSH key"),
    ],
)
def test_bad_input_is_refused_by_field_and_nothing_is_written(api, body, field, fragment):
    response = _register(api, **body)
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert field in errors and fragment in " ".join(errors[field])
    assert Plugin.objects.count() == 0 and _linked_events() == 0


def test_the_credential_must_fit_the_url_and_allow_its_host(api, owner, token):
    database = make_credential(owner, "postgres")
    key = make_credential(owner, "ssh_key")
    cases = [
        ({"credential": str(database.pk)}, "credential", "needs a token or basic-authentication credential"),
        ({"credential": str(key.pk)}, "credential", "needs a token or basic-authentication credential"),
        ({"credential": str(token.pk), "repo_url": "git@127.0.0.1:org/tools.git"}, "credential", "SSH key"),
        ({"credential": str(token.pk), "repo_url": "https://evil.example/org/tools.git"}, "repo_url", "evil.example"),
        ({"credential": str(key.pk), "repo_url": "git@evil.example:org/tools.git"}, "repo_url", "evil.example"),
    ]
    for body, field, fragment in cases:
        response = _register(api, **body)
        assert response.status_code == 400, (body, response.json())
        assert fragment in " ".join(response.json()["errors"][field]), (body, response.json())
    assert Plugin.objects.count() == 0 and _linked_events() == 0


def test_use_is_needed_on_the_credential(api, owner, stranger):
    theirs = _token(stranger, "theirs")
    response = _register(api, credential=str(theirs.pk))
    assert response.status_code == 400
    assert response.json()["errors"]["credential"] == ["No credential you may use has this id."]
    credential_share(actor=stranger, credential_id=theirs.pk, user=owner, permissions=["view"])
    response = _register(api, credential=str(theirs.pk))
    assert "not use it" in response.json()["errors"]["credential"][0]
    assert Plugin.objects.count() == 0


def test_a_credential_shared_for_use_may_clone(api, owner, stranger, eager_tasks):
    theirs = _token(stranger, "theirs")
    credential_share(actor=stranger, credential_id=theirs.pk, user=owner, permissions=["use"])
    assert _register(api, credential=str(theirs.pk)).status_code == 202


def test_an_inactive_or_expired_credential_is_refused(api, owner, token):
    Credential.objects.filter(pk=token.pk).update(is_active=False)
    assert "inactive" in _register(api, credential=str(token.pk)).json()["errors"]["credential"][0]
    Credential.objects.filter(pk=token.pk).update(is_active=True, expires_at=timezone.now() - timedelta(days=1))
    assert "expired" in _register(api, credential=str(token.pk)).json()["errors"]["credential"][0]
    assert Plugin.objects.count() == 0


def test_names_are_unique_per_owner(api, eager_tasks):
    assert _register(api, name="Tools").status_code == 202
    response = _register(api, name="tools")
    assert response.status_code == 400 and response.json()["errors"]["name"]


def test_a_public_repository_needs_no_credential(api, eager_tasks):
    response = _register(api)
    assert response.status_code == 202 and response.json()["credential"] is None
    assert _linked_events() == 0


def test_someone_elses_plugin_is_not_found_on_every_verb(api, eager_tasks, django_capture_on_commit_callbacks):
    other = make_user()
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(other)
    theirs = Committing(client, django_capture_on_commit_callbacks)
    plugin_id = _register(theirs).json()["id"]
    url = f"/api/plugins/{plugin_id}/"
    assert api.get("/api/plugins/").json()["count"] == 0
    assert api.get(url).status_code == 404
    assert api.patch(url, {"ref": "main"}, format="json").status_code == 404
    assert api.post(f"{url}sync/").status_code == 404
    assert api.delete(url).status_code == 404
    assert api.get("/api/plugins/not-a-uuid/").status_code == 404
    assert Plugin.objects.filter(pk=plugin_id).exists()


def test_a_superuser_sees_every_plugin(api, superuser, eager_tasks):
    plugin_id = _register(api).json()["id"]
    from rest_framework.test import APIClient

    admin = APIClient()
    admin.force_authenticate(superuser)
    assert admin.get(f"/api/plugins/{plugin_id}/").status_code == 200


def test_a_credential_in_use_cannot_be_deleted_until_its_plugins_move_or_go(api, owner, token, eager_tasks):
    plugin_id = _register(api, credential=str(token.pk)).json()["id"]
    response = api.delete(f"/api/credentials/{token.pk}/")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "in_use" and "tools" in body["detail"]
    assert body["used_by"] == [{"kind": "plugin", "id": plugin_id, "name": "tools"}]
    assert Credential.objects.filter(pk=token.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.DELETED).exists()

    spare = _token(owner, "spare", "y0ken-spare")
    moved = api.patch(f"/api/plugins/{plugin_id}/", {"credential": str(spare.pk)}, format="json")
    assert moved.status_code == 200 and moved.json()["credential"]["id"] == str(spare.pk)
    assert AuditEvent.objects.filter(action=AuditAction.PLUGIN_UNLINKED, credential_ref=str(token.pk)).exists()
    assert api.delete(f"/api/credentials/{token.pk}/").status_code == 204

    assert api.delete(f"/api/plugins/{plugin_id}/").status_code == 204
    assert api.delete(f"/api/credentials/{spare.pk}/").status_code == 204


def test_moving_to_a_credential_that_does_not_fit_is_refused(api, owner, token, eager_tasks):
    plugin_id = _register(api, credential=str(token.pk)).json()["id"]
    database = make_credential(owner, "postgres")
    response = api.patch(f"/api/plugins/{plugin_id}/", {"credential": str(database.pk)}, format="json")
    assert response.status_code == 400 and "credential" in response.json()["errors"]
    assert Plugin.objects.get(pk=plugin_id).credential_id == token.pk


def test_usage_lists_the_plugins_and_when_each_last_used_the_credential(api, token, eager_tasks):
    plugin_id = _register(api, credential=str(token.pk)).json()["id"]
    usage = api.get(f"/api/credentials/{token.pk}/usage/").json()
    (entry,) = usage["plugins"]
    assert entry["id"] == plugin_id and entry["name"] == "tools" and entry["last_used_at"]
    assert {row["service"] for row in usage["by_service"]} == {"plugins"}


def test_delete_removes_the_checkout(api, eager_tasks):
    plugin_id = _register(api).json()["id"]
    checkout = checkout_path(plugin_id)
    (checkout / ".git").mkdir(parents=True)
    (checkout / "README").write_text("hello")
    assert api.delete(f"/api/plugins/{plugin_id}/").status_code == 204
    assert not checkout.exists() and not Plugin.objects.filter(pk=plugin_id).exists()


def test_a_sync_under_way_is_not_started_again(api, eager_tasks):
    plugin_id = _register(api).json()["id"]
    run = uuid.uuid4()
    Plugin.objects.filter(pk=plugin_id).update(status=PluginStatus.CLONING, run=run, started_at=timezone.now())
    response = api.post(f"/api/plugins/{plugin_id}/sync/")
    assert response.status_code == 202 and response.json()["status"] == "cloning"
    assert Plugin.objects.get(pk=plugin_id).run == run


def test_a_sync_runs_again_and_records_its_result(api, token, eager_tasks):
    plugin_id = _register(api, credential=str(token.pk)).json()["id"]
    before = Plugin.objects.get(pk=plugin_id).updated_at
    assert api.post(f"/api/plugins/{plugin_id}/sync/").status_code == 202
    plugin = Plugin.objects.get(pk=plugin_id)
    assert plugin.status == PluginStatus.FAILED and plugin.updated_at > before
    assert AuditEvent.objects.filter(action=AuditAction.ACCESSED, credential_ref=str(token.pk)).count() == 2
