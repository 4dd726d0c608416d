"""A background run on a row (a credential's test, a plugin's sync): its run id, its queueing on commit, its sweep."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

if TYPE_CHECKING:
    from celery import Task


class Started(NamedTuple):
    """A run just started on a row: its id, and the row's run fields as they were before."""

    run: uuid.UUID
    previous: dict[str, Any]


@dataclass(frozen=True)
class BackgroundRuns:
    """Where one kind of run keeps its state on its model's rows, and how long a run may take.

    A row holds a status, the id of its run under way (a fresh one at each start) and when that
    run started. Its task carries the row's id and the run id, never more; a message delivered
    twice, or one whose run was replaced, finds its run over and does nothing.
    """

    model: type[models.Model]
    status_field: str
    run_field: str
    started_field: str
    busy: tuple[str, ...]  # the statuses of a run under way
    time_limit_setting: str  # the setting that holds how long a run may take, in seconds
    grace: timedelta  # how long past that limit a run may stay busy before the sweep calls it failed

    def stuck_after(self) -> timedelta:
        # Read at each call, not once: tests override the setting.
        return timedelta(seconds=getattr(settings, self.time_limit_setting)) + self.grace

    def is_running(self, row: models.Model, now: datetime) -> bool:
        """A run is under way on the row and not yet past its limit: a new one would only repeat it."""
        started = getattr(row, self.started_field)
        return (
            getattr(row, self.status_field) in self.busy and started is not None and started > now - self.stuck_after()
        )

    def start(self, row: models.Model, status: str, *, save: bool = True) -> Started:
        """Give the row a fresh run, started now, in ``status``: its id, and the three fields as they were.

        The row is locked by the caller, or not yet inserted (``save=False``: its caller inserts it).
        """
        fields = (self.status_field, self.run_field, self.started_field)
        previous = {name: getattr(row, name) for name in fields}
        run = uuid.uuid4()
        setattr(row, self.status_field, status)
        setattr(row, self.run_field, run)
        setattr(row, self.started_field, timezone.now())
        if save:
            row.save(update_fields=list(fields))
        return Started(run, previous)

    def of_run(self, pk: Any, run: uuid.UUID) -> models.QuerySet[Any]:
        """The row, if ``run`` is still its run."""
        return self.model._default_manager.filter(pk=pk, **{self.run_field: run})

    def current(self, pk: Any, run: uuid.UUID) -> models.QuerySet[Any]:
        """The row, if ``run`` is still its run and under way: what a worker may start on."""
        return self.of_run(pk, run).filter(**{f"{self.status_field}__in": self.busy})

    def queue_on_commit(
        self,
        task: Task,
        args: tuple[Any, ...],
        *,
        what: str,
        unavailable: type[Exception],
        undo: Callable[[], object],
        logger: logging.Logger,
    ) -> None:
        """Send ``task`` once the transaction commits, so that the worker finds the run it is sent for.

        If the broker cannot take it, the failure goes to the caller's ``logger``, ``undo`` (put the row
        back, or remove it) runs and ``unavailable`` is raised from the commit to the caller: nothing is
        left waiting for a task that never comes.
        """

        def send() -> None:
            try:
                # Ids and plain facts only: broker messages are readable by whoever reads the broker.
                task.apply_async(args=args)
            except (OperationalError, OSError) as exc:
                # The broker's URL may hold its password: log the kind of failure, not the message.
                logger.warning("Could not queue %s: %s", what, type(exc).__name__)
                undo()
                raise unavailable() from None

        transaction.on_commit(send)

    def stuck(self, *, older_than: timedelta | None = None) -> models.QuerySet[Any]:
        """Rows still busy past the limit (``older_than`` instead, if given), or with no start: their worker died."""
        cutoff = timezone.now() - (older_than if older_than is not None else self.stuck_after())
        started = self.started_field
        return self.model._default_manager.filter(
            Q(**{f"{started}__lt": cutoff}) | Q(**{f"{started}__isnull": True}),
            **{f"{self.status_field}__in": self.busy},
        )

    def overdue_message(self, noun: str, again: str) -> str:
        """What a swept run's row says, such as "The test did not finish within 90 s: ... Run it again."."""
        seconds = int(self.stuck_after().total_seconds())
        return f"The {noun} did not finish within {seconds} s: the worker running it may have stopped. {again}"
