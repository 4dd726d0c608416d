"""Plugins end to end: the API, a real Celery worker, and real git servers (git http-backend over TLS, sshd).

Each plugin is registered through the API and cloned by the worker; the tests then read the
plugin's row and its checkout on disk, and what the servers saw.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from credentials.services import credential_update
from plugins.models import Plugin
from plugins.paths import checkout_path
from tests.integration import git_servers, servers
from tests.integration.conftest import broker_at
from tests.integration.plugins_support import (
    https_token,
    no_leftovers,
    processes_left,
    register,
    ssh_credential,
    start_plugin_worker,
    sync,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300), pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def plugin_worker(git_https, broker, test_database_url, tmp_path_factory) -> Iterator[servers.Worker]:
    from config.celery import app

    app.control.purge()
    log = tmp_path_factory.mktemp("plugin-worker") / "worker.log"
    worker = start_plugin_worker(git_https, test_database_url, broker, log)
    yield worker
    servers.stop(worker.process, group=True)


@pytest.fixture
def api(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


# --- HTTPS ------------------------------------------------------------------------------------------


def test_https_clone_sync_and_a_new_secret_taking_effect(plugin_worker, git_https, owner, api):
    credential = https_token(owner, git_https)
    # A repository of this test's own: it pushes to it, and the shared one stays as other tests expect.
    url, refs = git_https.server.repository(f"sync-{uuid.uuid4().hex[:6]}.git", branches=(), tags=("v1",))
    plugin_id = register(api, repo_url=url, credential=str(credential.pk))
    plugin = wait_for(plugin_id)
    assert plugin.status == "installed", plugin.last_error
    assert plugin.commit == refs["main"]
    checkout = checkout_path(plugin_id)
    assert plugin.path == str(checkout) and (checkout / "dir0" / "file0.txt").exists()
    config = (checkout / ".git" / "config").read_text()
    assert url in config and git_https.token not in config and "extraheader" not in config.lower()
    assert plugin.credential_used_at is not None

    # A commit pushed to the server arrives with the next sync.
    pushed = git_servers.add_commit(git_https.server.path_of(url), files={"NEW.txt": "new\n"})
    plugin = sync(api, plugin_id)
    assert plugin.status == "installed" and plugin.commit == pushed and (checkout / "NEW.txt").exists()

    # Another ref: a tag.
    assert api.patch(f"/api/plugins/{plugin_id}/", {"ref": "v1"}, format="json").status_code == 200
    plugin = sync(api, plugin_id)
    assert plugin.commit == refs["v1"] and not (checkout / "NEW.txt").exists()

    # A wrong secret fails with a clear message; the right one, stored again, works at the next sync.
    credential_update(actor=owner, credential_id=credential.pk, changes={"fields": {"token": "revoked-token"}})
    plugin = sync(api, plugin_id)
    assert plugin.status == "failed" and "uthentication" in plugin.last_error
    assert "revoked-token" not in plugin.last_error and plugin.commit == refs["v1"]
    credential_update(actor=owner, credential_id=credential.pk, changes={"fields": {"token": git_https.token}})
    assert sync(api, plugin_id).status == "installed"
    assert no_leftovers() == []


def test_a_public_repository_clones_without_a_credential(plugin_worker, git_https, api):
    plugin = wait_for(register(api, repo_url=git_https.public_url))
    assert plugin.status == "installed" and plugin.commit == git_https.public_refs["main"]


def test_a_wrong_token_fails_clearly_and_keeps_nothing(plugin_worker, git_https, owner, api):
    credential = https_token(owner, git_https, token="not-the-token", name="wrong")
    plugin = wait_for(register(api, repo_url=git_https.private_url, credential=str(credential.pk)))
    assert plugin.status == "failed" and "uthentication" in plugin.last_error, plugin.last_error
    assert "not-the-token" not in plugin.last_error
    assert not checkout_path(plugin.pk).exists() and no_leftovers() == []


def test_a_host_no_longer_allowed_is_refused_before_any_connection(plugin_worker, git_https, owner, api):
    credential = https_token(owner, git_https, name="moving")
    plugin_id = register(api, repo_url=git_https.private_url, credential=str(credential.pk))
    assert wait_for(plugin_id).status == "installed"
    # The owner points the credential at another host (entering the secret again, as required).
    credential_update(
        actor=owner,
        credential_id=credential.pk,
        changes={"fields": {"token": git_https.token, "base_url": f"https://localhost:{git_https.server.port}"}},
    )
    seen = len(git_https.server.requests)
    plugin = sync(api, plugin_id)
    assert plugin.status == "failed" and "Refused before connecting" in plugin.last_error, plugin.last_error
    assert len(git_https.server.requests) == seen


def test_a_queue_that_is_down_answers_503_and_registers_nothing(git_https, owner, api, broker):
    credential = https_token(owner, git_https, name="queued")
    with broker_at("redis://127.0.0.1:1/0"):
        response = api.post(
            "/api/plugins/", {"name": "x", "repo_url": git_https.private_url, "credential": str(credential.pk)}
        )
    assert response.status_code == 503 and response.json()["code"] == "unavailable"
    assert not Plugin.objects.exists()


# --- SSH --------------------------------------------------------------------------------------------


def test_ssh_clone_with_a_passphrase_protected_key(plugin_worker, git_ssh, owner, api):
    credential = ssh_credential(owner, git_ssh)
    plugin = wait_for(register(api, repo_url=git_ssh.url, credential=str(credential.pk), ref="feature/next"))
    assert plugin.status == "installed", plugin.last_error
    assert plugin.commit == git_ssh.refs["feature/next"]
    assert processes_left() == [] and no_leftovers() == []


def test_ssh_with_a_wrong_key_fails_clearly(plugin_worker, git_ssh, owner, api):
    stranger_key = git_servers.make_ssh_key()
    credential = ssh_credential(owner, git_ssh, private_key=stranger_key.private_key)
    plugin = wait_for(register(api, repo_url=git_ssh.url, credential=str(credential.pk)))
    assert plugin.status == "failed" and "refused the key" in plugin.last_error, plugin.last_error
    assert "PRIVATE KEY" not in plugin.last_error


def test_ssh_to_a_host_whose_key_is_not_pinned_is_refused(plugin_worker, git_ssh, owner, api):
    other_host_key = git_servers.make_ssh_key().public_line.split()[:2]
    pin = f"[{servers.LOOPBACK}]:{git_ssh.server.port} {other_host_key[0]} {other_host_key[1]}"
    credential = ssh_credential(owner, git_ssh, host_keys=pin)
    plugin = wait_for(register(api, repo_url=git_ssh.url, credential=str(credential.pk)))
    assert plugin.status == "failed" and "SHA256:" in plugin.last_error, plugin.last_error
    offered = git_ssh.host_key_line.split()[2]
    assert offered in plugin.last_error  # the line to pin, should the user trust it
