"""Helpers of the plugin integration tests: a worker that trusts the test CA, credentials for the servers, polling."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from rest_framework.test import APIClient

from credentials.models import Credential
from credentials.services import credential_create
from plugins.models import Plugin
from plugins.paths import work_root
from tests.integration import servers
from tests.integration.conftest import wait_for_fan_out


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Variables for the processes started inside the block (the worker reads its settings from them)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_plugin_worker(git_https, database_url: str, broker: str, log: Path, **options) -> servers.Worker:
    """A worker that trusts the test CA; the plugin root comes from this process's environment (tests.settings)."""
    with environment(PLUGINS_GIT_CA_FILE=str(git_https.ca_file), PLUGINS_GIT_TIMEOUT="120"):
        return servers.start_worker(database_url=database_url, broker_url=broker, log=log, **options)


def https_token(owner, git_https, *, token: str | None = None, name: str = "forge") -> Credential:
    """A GitHub token for the test server: its base URL makes 127.0.0.1 the allowed host."""
    fields = {"token": token or git_https.token, "base_url": f"https://{servers.LOOPBACK}:{git_https.server.port}"}
    return credential_create(actor=owner, type_slug="github_pat", name=name, fields=fields)


def ssh_credential(owner, git_ssh, *, private_key: str | None = None, host_keys: str | None = None) -> Credential:
    key = git_ssh.key
    fields = {
        "username": git_ssh.server.user,
        "private_key": private_key or key.encrypted_private_key,
        "passphrase": key.passphrase if private_key is None else "",
        "host_keys": host_keys or git_ssh.host_key_line,
    }
    return credential_create(actor=owner, type_slug="ssh_key", name=f"ssh-{uuid.uuid4().hex[:6]}", fields=fields)


def register(api: APIClient, **body) -> str:
    body.setdefault("name", f"plugin-{uuid.uuid4().hex[:6]}")
    response = api.post("/api/plugins/", body, format="json")
    assert response.status_code == 202, response.json()
    return response.json()["id"]


def wait_for(plugin_id: str, *, timeout: float = 90.0, states: tuple[str, ...] = ("installed", "failed")) -> Plugin:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        plugin = Plugin.objects.get(pk=plugin_id)
        if plugin.status in states:
            wait_for_fan_out()
            return plugin
        time.sleep(0.1)
    raise AssertionError(f"plugin {plugin_id} did not reach {states} within {timeout:g} s")


def sync(api: APIClient, plugin_id: str) -> Plugin:
    assert api.post(f"/api/plugins/{plugin_id}/sync/").status_code == 202
    return wait_for(plugin_id)


def no_leftovers() -> list[str]:
    """Whatever jobs left in the work root (nothing, when every job cleaned up)."""
    root = work_root()
    return [str(path) for path in root.rglob("*") if path.is_file() or path.is_socket()] if root.exists() else []


def processes_left() -> list[str]:
    """Processes (ssh-agent, git, ssh) still working under the plugin root: a finished or swept job has none."""
    root = str(settings.PLUGINS_ROOT)
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = Path(f"/proc/{name}/stat").read_text().rpartition(")")[2].split()[0]
                if state != "Z" and (root in cmdline or os.readlink(f"/proc/{name}/cwd").startswith(root)):
                    found.append(cmdline)
    return found
