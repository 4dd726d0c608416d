"""Celery tasks for plugins: each takes ids and calls plugins.syncing; a worker sweeps its leftovers at start."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from plugins import syncing

logger = logging.getLogger(__name__)


@shared_task(
    name="plugins.sync",
    acks_late=True,
    ignore_result=True,
    # git's own timeout comes first; these stop a task that hangs outside git.
    soft_time_limit=settings.PLUGINS_GIT_TIMEOUT + 30,
    time_limit=settings.PLUGINS_GIT_TIMEOUT + 60,
)
def plugin_sync_task(plugin_id: str, run: str, actor_id: int | None, ip: str | None = None) -> None:
    syncing.plugin_sync_run(plugin_id=plugin_id, run=run, actor_id=actor_id, ip=ip)


@shared_task(name="plugins.sweep_stuck_syncs", ignore_result=True)
def plugin_syncs_sweep_task() -> None:
    syncing.plugin_syncs_sweep()


@worker_ready.connect(dispatch_uid="plugins.sweep_work_directories")
def _sweep_at_start(**kwargs: Any) -> None:
    removed = syncing.plugin_work_sweep()
    if removed:
        logger.info("Removed %d work directories left by a stopped worker", removed)
