"""A worker killed in the middle of a clone: after the sweep at the next worker's start, nothing is left.

The clone is of a large repository (100 MB of incompressible data) over SSH, so the worker is
killed (SIGKILL to its whole process group, no clean shutdown) while git is still receiving.
"""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from plugins.models import Plugin
from plugins.paths import checkout_path, work_root
from tests.integration import servers
from tests.integration.plugins_support import (
    no_leftovers,
    processes_left,
    register,
    ssh_credential,
    start_plugin_worker,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300), pytest.mark.django_db(transaction=True)]


def _clone_in_progress(timeout: float = 60.0) -> list:
    """The job directories of a clone under way, once git has started writing the checkout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [path for path in work_root().glob("*/*") if (path / "checkout" / ".git").exists()]
        if jobs:
            return jobs
        time.sleep(0.01)
    raise AssertionError("no clone started within the time allowed")


def test_a_worker_killed_mid_clone_leaves_no_checkout_key_or_agent(
    git_https, git_ssh, broker, test_database_url, owner, tmp_path
):
    url, _ = git_ssh.server.repository(
        "large.git", files=100, commits=1, branches=(), tags=(), file_size=1 << 20, incompressible=True
    )
    client = APIClient()
    client.force_authenticate(owner)
    credential = ssh_credential(owner, git_ssh)
    first = start_plugin_worker(git_https, test_database_url, broker, tmp_path / "first.log")
    second = None
    try:
        plugin_id = register(client, repo_url=url, credential=str(credential.pk))
        jobs = _clone_in_progress()
        first.kill()
        assert Plugin.objects.get(pk=plugin_id).status == "cloning"
        assert all(job.exists() for job in jobs)  # what the killed worker left behind

        # The next worker's start sweeps the work directories of processes that are gone.
        second = start_plugin_worker(git_https, test_database_url, broker, tmp_path / "second.log")
        plugin = wait_for(plugin_id, timeout=30)
    finally:
        for worker in (first, second):
            if worker is not None:
                servers.stop(worker.process, group=True)

    assert plugin.status == "failed" and "stopped before it finished" in plugin.last_error
    assert not any(job.exists() for job in jobs)
    assert not checkout_path(plugin_id).exists()
    assert no_leftovers() == [] and processes_left() == []
