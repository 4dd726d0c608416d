"""The canary through plugin clones: never in a process's arguments, the checkout, the rows, the broker or the log.

A canary token (the HTTPS server's only accepted token, unique to this run) and a canary SSH key
(with its passphrase) clone real repositories through a real worker logging at DEBUG. While the
clones run, every process's /proc/<pid>/cmdline is sampled; afterwards the checkouts (all of
``.git`` included), the plugin root, the database, the broker and the worker's log are searched
for every form of each secret.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.canary import Haystack, dump_database
from tests.integration import servers
from tests.integration.broker import broker_commands, broker_contents
from tests.integration.plugins_support import (
    https_token,
    no_leftovers,
    processes_left,
    register,
    ssh_credential,
    start_plugin_worker,
    wait_for,
)
from tests.proc_sampler import ProcSampler

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300), pytest.mark.django_db(transaction=True)]

WRONG_CANARY = f"wrong-canary-{uuid.uuid4().hex}/+="


@pytest.fixture(scope="module")
def debug_worker(git_https, broker, test_database_url, tmp_path_factory) -> Iterator[servers.Worker]:
    """This module's worker logs at DEBUG: the most it ever says must still hold no secret."""
    from config.celery import app

    app.control.purge()
    log = tmp_path_factory.mktemp("plugin-canary-worker") / "worker.log"
    worker = start_plugin_worker(git_https, test_database_url, broker, log, loglevel="DEBUG")
    yield worker
    servers.stop(worker.process, group=True)


def _files(root: Path) -> Iterator[Path]:
    yield from (path for path in root.rglob("*") if path.is_file())


def test_the_canaries_leak_nowhere_in_plugin_clones(debug_worker, broker, git_https, git_ssh, owner):
    client = APIClient()
    client.force_authenticate(owner)
    token = https_token(owner, git_https, name="canary-token")
    wrong = https_token(owner, git_https, token=WRONG_CANARY, name="canary-wrong")
    key = ssh_credential(owner, git_ssh)
    secrets = {
        git_https.token,
        WRONG_CANARY,
        git_ssh.key.private_key,
        git_ssh.key.encrypted_private_key,
        git_ssh.key.passphrase,
    }
    careless = git_https.server.url("careless/plugin.git")
    temp = Path(tempfile.gettempdir())
    temp_before = set(temp.iterdir())

    # git's own processes: their environments are read too, to see what git was (and was not) given.
    with broker_commands(broker) as commands, ProcSampler(watch_environ=lambda c: c.startswith("git ")) as sampler:
        ids = [
            register(client, repo_url=git_https.private_url, credential=str(token.pk)),
            register(client, repo_url=careless, credential=str(wrong.pk)),
            register(client, repo_url=git_ssh.url, credential=str(key.pk)),
        ]
        plugins = [wait_for(plugin_id) for plugin_id in ids]
        for plugin_id in (ids[0], ids[2]):  # a sync too: fetch into an existing checkout
            assert client.post(f"/api/plugins/{plugin_id}/sync/").status_code == 202
            plugins.append(wait_for(plugin_id))

    assert [p.status for p in plugins] == ["installed", "failed", "installed", "installed", "installed"], [
        p.last_error for p in plugins
    ]
    # The sample is meaningful: it saw git and ssh at work, many times over.
    assert sampler.saw("git clone") >= 2 and sampler.saw("ssh ") >= 1 and sampler.saw("ssh-agent") >= 1
    assert sampler.passes > 10
    assert sampler.occurrences(secrets) == 0, "a secret was in a process's command line"
    # git's environment is its own: none of the worker's keys or database URL.
    environments = sampler.environments()
    assert environments and not any({"FERNET_KEYS", "DATABASE_URL", "SECRET_KEY"} & names for names in environments)
    # The careless server echoed the wrong token back: the redactor had something to do.
    assert WRONG_CANARY not in plugins[1].last_error

    haystack = Haystack()
    root = Path(settings.PLUGINS_ROOT)
    checked = 0
    for path in _files(root):
        haystack.add(f"file {path}", path.read_bytes().decode("latin-1"))
        checked += 1
    assert checked > 10 and any(path.name == "config" for path in _files(root))
    # Whatever git, ssh or the agent may have put in the system's temporary directory meanwhile.
    for entry in set(temp.iterdir()) - temp_before:
        for path in [entry] if entry.is_file() else _files(entry):
            haystack.add(f"temporary file {path}", path.read_bytes().decode("latin-1"))
    for number, command in enumerate(commands):
        haystack.add(f"broker command {number}", command)
    for entry in broker_contents(broker):
        haystack.add("broker key", entry)
    haystack.add("worker log", debug_worker.log_text())
    dump_database(haystack, "database")

    assert any("plugins.sync" in command for command in commands)
    assert "plugins.sync" in debug_worker.log_text()
    assert haystack.leaks(secrets) == []
    # No key file, socket or agent is left, and each job's directory is gone.
    assert no_leftovers() == [] and processes_left() == []
    assert not [p for p in _files(root) if "PRIVATE KEY" in p.read_bytes().decode("latin-1")]
