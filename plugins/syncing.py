"""A plugin's clone or sync, in the worker: the one door, git with the secret, the result on the row.

State lives on the plugin's row (``status``, ``commit``, ``last_error`` redacted) and the run in
progress (``run``, ``started_at``). Tasks carry ids only; a message delivered twice finds its
run over and does nothing. Each job works in a private directory that is removed whatever
happens; one left by a killed worker is removed, and its plugin failed, by the sweeps below.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from config.actors import Actor
from config.background_runs import BackgroundRuns
from config.events import raise_event
from credentials.door import RevealedSecret, credential_reveal
from credentials.errors import CredentialNotFound, DestinationRefused, RevealRefused
from credentials.redaction import Redactor
from plugins import events
from plugins.git import command as git
from plugins.models import AUDIT_SERVICE, Plugin, PluginStatus
from plugins.paths import checkout_path, work_root

logger = logging.getLogger(__name__)

BUSY = (PluginStatus.PENDING, PluginStatus.CLONING)
SYNC_RUNS = BackgroundRuns(
    model=Plugin,
    status_field="status",
    run_field="run",
    started_field="started_at",
    busy=BUSY,
    time_limit_setting="PLUGINS_GIT_TIMEOUT",  # git's timeout; the task's own limits are longer (plugins/tasks.py)
    grace=timedelta(seconds=60),
)


class SyncFailed(Exception):
    """The sync failed for the reason in the message, which is already redacted."""


def plugin_sync_run(*, plugin_id: Any, run: Any, actor_id: Any, ip: str | None = None) -> str | None:
    """Clone (first time) or fetch and check out the plugin's ref, if ``run`` is still its run.

    Returns the status recorded, or None when the run is over, was replaced, or the plugin is gone.
    """
    run = uuid.UUID(str(run))
    started = SYNC_RUNS.current(plugin_id, run).update(status=PluginStatus.CLONING)
    if not started:
        return None
    plugin = Plugin.objects.filter(pk=plugin_id).first()
    if plugin is None:  # deleted since
        return None
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id is not None else None
    work_dir = _make_work_dir(plugin.pk, run)
    redactor = Redactor()
    used_at = None
    try:
        try:
            secret = None
            location = _location(plugin)
            if plugin.credential_id is not None:
                secret = _reveal(plugin, plugin.credential_id, actor, ip)
                used_at = timezone.now()
            commit, fresh = _checkout(plugin, location, secret, redactor, work_dir)
        except SyncFailed as exc:
            failure = redactor.shorten(exc)
        else:
            return _finish_installed(plugin, run, commit, fresh, used_at)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    # Once its job directory is gone: whoever sees the plugin failed finds nothing of the job left.
    return _finish_failed(plugin, run, failure, used_at)


def _location(plugin: Plugin) -> git.RepoLocation:
    try:
        return git.parse_repo_url(plugin.repo_url)
    except ValueError as exc:  # a URL stored before a stricter check
        raise SyncFailed(str(exc)) from None


def _reveal(plugin: Plugin, credential_id: uuid.UUID, actor: Actor | None, ip: str | None) -> RevealedSecret:
    try:
        return credential_reveal(
            actor=actor, credential_id=credential_id, service=AUDIT_SERVICE, ip=ip, details=plugin.audit_details
        )
    except RevealRefused as exc:
        # The plugin holds the credential (deleting it is refused while it does): "not found" from the
        # door means whoever asked may no longer see it.
        if isinstance(exc, CredentialNotFound):
            raise SyncFailed("Whoever asked for this sync may no longer use the plugin's credential.") from None
        raise SyncFailed(str(exc)) from None


def _checkout(
    plugin: Plugin, location: git.RepoLocation, secret: RevealedSecret | None, redactor: Redactor, work_dir: Path
) -> tuple[str, Path | None]:
    """The commit checked out, and the fresh clone to move into place (None when an existing checkout moved)."""
    timeout = settings.PLUGINS_GIT_TIMEOUT
    try:
        auth = git.auth_for(secret, location, redactor)
        existing = checkout_path(plugin.pk)
        if (existing / ".git").is_dir():
            try:
                # Only the checkout's objects and refs are trusted; its .git/config is written again (git/command.py).
                commit = git.fetch_and_checkout(
                    location=location, ref=plugin.ref, checkout=existing, auth=auth, redactor=redactor,
                    work_dir=work_dir, timeout=timeout,
                )  # fmt: skip
                return commit, None
            except git.UntrustedCheckout as exc:
                # Not what our clone made: a fresh clone replaces it, as at registration.
                logger.warning("plugin %s: its checkout is not trusted (%s); cloning afresh", plugin.pk, exc)
        fresh = work_dir / "checkout"
        commit = git.clone(
            location=location, ref=plugin.ref, destination=fresh, auth=auth, redactor=redactor,
            work_dir=work_dir, timeout=timeout,
        )  # fmt: skip
        return commit, fresh
    except git.GitError as exc:
        raise SyncFailed(str(exc)) from None
    except DestinationRefused as exc:
        raise SyncFailed(f"Refused before connecting: {exc}") from None
    except SoftTimeLimitExceeded:
        raise SyncFailed("The sync ran out of time and was stopped.") from None
    except Exception as exc:  # a surprise is still a failed sync, not a crashed worker; its text may hold a secret
        logger.warning("plugin sync %s failed with %s", plugin.pk, type(exc).__name__)
        raise SyncFailed(f"The sync failed: {type(exc).__name__}: {redactor.redact(exc)}") from None


def _finish_installed(plugin: Plugin, run: uuid.UUID, commit: str, fresh: Path | None, used_at: Any) -> str | None:
    with transaction.atomic():
        current = SYNC_RUNS.of_run(plugin.pk, run).select_for_update().first()
        if current is None:
            return None  # deleted or superseded meanwhile: the work directory goes, nothing is kept
        final = checkout_path(plugin.pk)
        if fresh is not None:
            # Under the row's lock, so a deletion cannot slip between the check and the move.
            shutil.rmtree(final, ignore_errors=True)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(fresh, final)
        now = timezone.now()
        Plugin.objects.filter(pk=plugin.pk).update(
            status=PluginStatus.INSTALLED, commit=commit, path=str(final), last_error="", run=None,
            started_at=None, last_synced_at=now, updated_at=now,
            **({"credential_used_at": used_at} if used_at else {}),
        )  # fmt: skip
    return PluginStatus.INSTALLED.value


def _finish_failed(plugin: Plugin, run: uuid.UUID, message: str, used_at: Any) -> str | None:
    now = timezone.now()
    with transaction.atomic():
        updated = SYNC_RUNS.of_run(plugin.pk, run).update(
            status=PluginStatus.FAILED, last_error=message, run=None, started_at=None, updated_at=now,
            **({"credential_used_at": used_at} if used_at else {}),
        )  # fmt: skip
        if updated:
            raise_event(events.sync_failed, Plugin, plugin_id=plugin.pk, credential_id=plugin.credential_id)
    return PluginStatus.FAILED.value if updated else None


# --- Work directories, and the sweeps that clear what a killed worker left -------------------------

_JOB_FILE = "job"


def _host_dir() -> Path:
    # Per host: the sweep at a worker's start may only judge processes it can see.
    return work_root() / socket.gethostname()


def _make_work_dir(plugin_id: uuid.UUID, run: uuid.UUID) -> Path:
    """A private (0700) directory with a short name (ssh-agent's socket path must stay under 108 bytes).

    Its ``job`` file says whose it is (plugin, run, process), so the sweep can tell if it was left behind.
    """
    parent = _host_dir()
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = Path(tempfile.mkdtemp(prefix="j", dir=parent))  # created 0700
    (path / _JOB_FILE).write_text(f"{plugin_id} {run} {os.getpid()}\n")
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed pool process whose parent died too may linger as a zombie nobody reaps: it is gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _stop_processes_in(path: Path) -> None:
    """SIGKILL what still works in a dead job's directory: git runs in a session of its own (so that a
    timeout can stop its whole tree), so a killed worker's clone may still be running."""
    inside = str(path)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours
            continue
        if cwd == inside or cwd.startswith(inside + "/") or inside in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _job_of(path: Path) -> tuple[uuid.UUID, uuid.UUID, int] | None:
    try:
        plugin_id, run, pid = (path / _JOB_FILE).read_text().split()
        return uuid.UUID(plugin_id), uuid.UUID(run), int(pid)
    except (OSError, ValueError):
        return None


def plugin_work_sweep() -> int:
    """At a worker's start: remove work directories whose process is gone, failing their plugins.

    Returns how many directories were removed.
    """
    removed = 0
    parent = _host_dir()
    if not parent.is_dir():
        return 0
    for path in parent.iterdir():
        job = _job_of(path)
        if job is not None and job[2] != os.getpid() and _pid_alive(job[2]):
            continue
        # A directory without its job file was killed while being made: nobody owns it.
        _stop_processes_in(path)
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
        if job is None:
            continue
        plugin_id, run, _ = job
        message = "The worker running this sync stopped before it finished; nothing was kept. Sync again."
        SYNC_RUNS.current(plugin_id, run).update(
            status=PluginStatus.FAILED, last_error=message, run=None, started_at=None, updated_at=timezone.now()
        )
    return removed


def plugin_syncs_sweep(*, older_than: timedelta | None = None) -> int:
    """Fail syncs still busy past their time limit (their worker died); return how many."""
    message = SYNC_RUNS.overdue_message("sync", "Sync again.")
    return SYNC_RUNS.stuck(older_than=older_than).update(
        status=PluginStatus.FAILED, last_error=message, run=None, started_at=None, updated_at=timezone.now()
    )
