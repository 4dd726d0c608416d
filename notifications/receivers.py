"""Every domain event notifications hears of, kept as a RaisedEvent in the transaction that raised it.

Nothing is decided or sent here: a request pays one INSERT, and once its transaction commits the
fan-out task is queued (tasks carry the row's id). Should the broker be down, the row waits for the
beat's ``notifications.fan_out_waiting``, so an event is never lost with the message.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from kombu.exceptions import OperationalError

from audit import events as audit_events
from credentials import events as credential_events
from credentials.access import events as access_events
from notifications.models import RaisedEvent
from plugins import events as plugin_events

logger = logging.getLogger(__name__)

# Each signal by the name its RaisedEvent keeps (and notifications.notices reads).
SIGNALS: dict[str, Signal] = {
    "expiry_reached": credential_events.expiry_reached,
    "test_failing": credential_events.test_failing,
    "test_recovered": credential_events.test_recovered,
    "secret_changed": credential_events.secret_changed,
    "rolled_back": credential_events.rolled_back,
    "shared": credential_events.shared,
    "unshared": credential_events.unshared,
    "access_requested": access_events.access_requested,
    "access_decided": access_events.access_decided,
    "grant_ending": access_events.grant_ending,
    "sync_failed": plugin_events.sync_failed,
    "verification_failed": audit_events.verification_failed,
}


def connect() -> None:
    for name, signal in SIGNALS.items():
        signal.connect(_keeper(name), weak=False, dispatch_uid=f"notifications.{name}")


def _keeper(name: str) -> Any:
    def keep(sender: type, **facts: Any) -> None:
        facts.pop("signal", None)
        record_raised(name, facts)

    return keep


def record_raised(name: str, facts: dict[str, Any]) -> RaisedEvent:
    """Keep the event, and queue its fan-out once the transaction commits."""
    raised = RaisedEvent.objects.create(signal=name, facts=_jsonable(facts))
    transaction.on_commit(lambda: queue_fan_out(raised.pk))
    return raised


def queue_fan_out(raised_id: int) -> None:
    from notifications.tasks import fan_out_task

    try:
        fan_out_task.delay(raised_id)
    except (OperationalError, OSError) as exc:
        # The event is kept: the beat's sweep fans it out once the broker is back.
        logger.warning("Could not queue the fan-out of event %s: %s", raised_id, type(exc).__name__)


# Not DjangoJSONEncoder: it cuts a time to milliseconds, and a sweep's notices are found by its exact
# time (credentials.expiry.notices_of_sweep); sets, which it refuses, become lists here.
def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
