"""The expiry sweep (beat, hourly): credentials expiring in 30, 7 or 1 days, or expired, announced once per stage.

One statement finds what is due and records it (``ExpiryNotice``, stamped with the sweep's time), so
two sweeps at once announce nothing twice and the work stays a constant number of queries however
many credentials there are; the event names the sweep, and its readers read the notices it wrote.
A credential is announced at the nearest stage it has reached: one made to expire in twelve hours
hears "1 day", not also "30" and "7". Expired credentials are announced only within
EXPIRY_NOTICE_GRACE_DAYS of their expiry, so that the first sweep after an upgrade does not announce
every credential that expired years ago.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.events import raise_event
from credentials import events
from credentials.models import Credential, ExpiryNotice

STAGES = (30, 7, 1)  # days before expiry; 0 is expired


def expiry_sweep(*, now: datetime | None = None) -> int:
    """Record and announce (``events.expiry_reached``) every expiry notice due now; return how many."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_SQL, _params(now))
            count: int = cursor.rowcount
        if count:
            raise_event(events.expiry_reached, Credential, noticed_at=now, count=count)
    return count


def notices_of_sweep(noticed_at: datetime) -> list[tuple[uuid.UUID, int, datetime]]:
    """The notices one sweep recorded: (credential id, stage in days, the expiry announced)."""
    rows = ExpiryNotice.objects.filter(noticed_at=noticed_at).order_by("expires_at", "credential_id")
    return list(rows.values_list("credential_id", "days", "expires_at"))


def notices_prune(*, now: datetime | None = None) -> int:
    """Forget notices of expiries past the grace period: no sweep can find them due again."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EXPIRY_NOTICE_GRACE_DAYS + 1)
    return ExpiryNotice.objects.filter(expires_at__lt=cutoff).delete()[0]


def _params(now: datetime) -> dict[str, Any]:
    adapt = connection.ops.adapt_datetimefield_value
    moments = {f"within_{days}": adapt(now + timedelta(days=days)) for days in STAGES}
    return {
        "now": adapt(now),
        "grace": adapt(now - timedelta(days=settings.EXPIRY_NOTICE_GRACE_DAYS)),
        **moments,
        "true": True,
    }


def _due() -> str:
    stages = " ".join(f"WHEN c.expires_at <= %(within_{days})s THEN {days}" for days in reversed(STAGES))
    return f"CASE WHEN c.expires_at <= %(now)s THEN 0 {stages} END"


# Table names are the models' own and every value is a parameter.
_SQL = f"""
INSERT INTO {ExpiryNotice._meta.db_table} (credential_id, expires_at, days, noticed_at)
SELECT c.id, c.expires_at, {_due()}, %(now)s
FROM {Credential._meta.db_table} c
WHERE c.is_active = %(true)s AND c.expires_at > %(grace)s AND c.expires_at <= %(within_{max(STAGES)})s
  AND NOT EXISTS (
    SELECT 1 FROM {ExpiryNotice._meta.db_table} n
    WHERE n.credential_id = c.id AND n.expires_at = c.expires_at AND n.days <= {_due()}
  )
ON CONFLICT DO NOTHING
"""  # noqa: S608
