"""The sweeps: syncs stuck past their time limit, and work directories a killed worker left behind."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from plugins import syncing
from plugins.models import Plugin, PluginStatus
from plugins.paths import work_root

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_work_root():
    shutil.rmtree(work_root(), ignore_errors=True)
    yield
    shutil.rmtree(work_root(), ignore_errors=True)


@pytest.fixture
def plugin(owner):
    return Plugin.objects.create(
        name="tools", repo_url="https://127.0.0.1:9/x.git", owner=owner, status=PluginStatus.CLONING,
        run=uuid.uuid4(), started_at=timezone.now(),
    )  # fmt: skip


def _job(plugin: Plugin, pid: int):
    directory = syncing._make_work_dir(plugin.pk, plugin.run)
    (directory / "job").write_text(f"{plugin.pk} {plugin.run} {pid}\n")
    (directory / "checkout").mkdir()
    return directory


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_work_directory_is_private_and_says_whose_it_is(plugin):
    directory = syncing._make_work_dir(plugin.pk, plugin.run)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert syncing._job_of(directory)[:2] == (plugin.pk, plugin.run)


def test_the_sweep_removes_a_dead_process_directory_and_fails_its_plugin(plugin):
    directory = _job(plugin, _dead_pid())
    assert syncing.plugin_work_sweep() == 1
    assert not directory.exists()
    plugin.refresh_from_db()
    assert plugin.status == PluginStatus.FAILED and "stopped before it finished" in plugin.last_error
    assert plugin.run is None


def test_the_sweep_keeps_a_live_process_directory(plugin):
    directory = _job(plugin, 1)  # pid 1 lives as long as the machine
    assert syncing.plugin_work_sweep() == 0
    assert directory.exists()
    plugin.refresh_from_db()
    assert plugin.status == PluginStatus.CLONING


def test_a_directory_without_its_job_file_is_removed(plugin):
    directory = syncing._make_work_dir(plugin.pk, plugin.run)
    (directory / "job").unlink()
    assert syncing.plugin_work_sweep() == 1 and not directory.exists()


def test_a_sync_busy_past_its_time_limit_is_failed(plugin, owner):
    fresh = Plugin.objects.create(
        name="fresh", repo_url="https://127.0.0.1:9/y.git", owner=owner, status=PluginStatus.PENDING,
        run=uuid.uuid4(), started_at=timezone.now(),
    )  # fmt: skip
    overdue = timezone.now() - syncing.SYNC_RUNS.stuck_after() - timedelta(1)
    Plugin.objects.filter(pk=plugin.pk).update(started_at=overdue)
    assert syncing.plugin_syncs_sweep() == 1
    plugin.refresh_from_db()
    fresh.refresh_from_db()
    assert plugin.status == PluginStatus.FAILED and "did not finish" in plugin.last_error
    assert fresh.status == PluginStatus.PENDING


def test_a_message_for_a_run_that_is_over_does_nothing(plugin):
    assert syncing.plugin_sync_run(plugin_id=plugin.pk, run=uuid.uuid4(), actor_id=None) is None
    Plugin.objects.filter(pk=plugin.pk).update(status=PluginStatus.INSTALLED)
    assert syncing.plugin_sync_run(plugin_id=plugin.pk, run=plugin.run, actor_id=None) is None


def test_a_stored_url_that_no_longer_passes_fails_the_sync(plugin, owner):
    Plugin.objects.filter(pk=plugin.pk).update(repo_url="http://127.0.0.1:9/x.git")
    assert syncing.plugin_sync_run(plugin_id=plugin.pk, run=plugin.run, actor_id=owner.pk) == "failed"
    plugin.refresh_from_db()
    assert "http://" in plugin.last_error and plugin.run is None
    assert not list(work_root().rglob("job"))
