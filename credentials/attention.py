"""What needs attention: each section (expired, expiring, failing, flagged, never tested, unused), defined once.

The credentials report (``testers/report.py``), the "Needs attention" page and its API
(``selectors.credentials_needing_attention_for_user``) all read these definitions, so a section
means the same everywhere. Each is a condition on a credential row: counted, filtered and flagged
in SQL, never by loading rows. None reads the ciphertext.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.db.models.expressions import OrderBy

from audit.models import AuditAction, AuditEvent
from credentials.models import CredentialTestStatus

SECTIONS = ("expired", "expiring", "failing", "flagged", "never_tested", "unused")
# The windows a caller may choose ("expiring within N days", "unused for N days"): ten years.
MAX_DAYS = 3650
# The windows the page and the API use when the caller names none.
DEFAULT_DAYS = 30
DEFAULT_UNUSED_DAYS = 90


def _accesses() -> Q:
    """The credential's successful reveals through the one door (door.py audits each as *accessed*)."""
    return Q(credential=OuterRef("pk"), action=AuditAction.ACCESSED)


def last_used_at() -> Subquery:
    """When the credential's secret was last handed out: the newest *accessed* event (null: never)."""
    newest = AuditEvent.objects.filter(_accesses()).order_by("-created_at").values("created_at")[:1]
    return Subquery(newest)


def section_conditions(*, now: datetime, days: int, unused_days: int | None = None) -> dict[str, Q]:
    """Each section's condition, in SECTIONS order; ``unused`` only when ``unused_days`` is given.

    ``flagged`` is ``runs.is_flagged`` (failed CREDENTIAL_TEST_FLAG_AFTER tests or more in a row)
    as a condition. ``unused``: older than the window and no reveal within it, so a credential
    made yesterday is not unused, and one never revealed since it was made long ago is.
    """
    conditions = {
        "expired": Q(expires_at__lte=now),
        "expiring": Q(expires_at__gt=now, expires_at__lte=now + timedelta(days=days)),
        "failing": Q(test_status=CredentialTestStatus.FAILED),
        "flagged": Q(test_failures__gte=settings.CREDENTIAL_TEST_FLAG_AFTER),
        "never_tested": Q(test_status=CredentialTestStatus.NEVER, last_tested__isnull=True),
    }
    if unused_days is not None:
        cutoff = now - timedelta(days=unused_days)
        recent = AuditEvent.objects.filter(_accesses(), created_at__gt=cutoff)
        conditions["unused"] = Q(~Exists(recent), created_at__lte=cutoff)
    return conditions


def _then(*keys: str | OrderBy) -> tuple[str | OrderBy, ...]:
    # Name, environment and id settle ties, so that pages never overlap.
    return (*keys, "name", "environment", "pk")


# The orders a list may be sorted in, by the name a caller gives. ``last_used_at`` needs the rows
# annotated with last_used_at(), as the selector does.
ORDERINGS: dict[str, tuple[str | OrderBy, ...]] = {
    "name": ("name", "environment", "pk"),
    "-name": ("-name", "-environment", "-pk"),
    "expires_at": _then(F("expires_at").asc(nulls_last=True)),
    "-expires_at": _then(F("expires_at").desc(nulls_last=True)),
    "test_failures": _then("test_failures"),
    "-test_failures": _then("-test_failures"),
    "last_tested": _then(F("last_tested").asc(nulls_first=True)),
    "-last_tested": _then(F("last_tested").desc(nulls_last=True)),
    "last_used_at": _then(F("last_used_at").asc(nulls_first=True)),
    "-last_used_at": _then(F("last_used_at").desc(nulls_last=True)),
    "created_at": _then("created_at"),
    "-created_at": _then("-created_at"),
}
# Each section's own order (the report's): soonest expiry, worst failures, oldest, longest unused first.
SECTION_ORDERS = {
    "expired": "expires_at",
    "expiring": "expires_at",
    "failing": "-test_failures",
    "flagged": "-test_failures",
    "never_tested": "created_at",
    "unused": "last_used_at",
}
DEFAULT_ORDER = "name"


def default_order(section: str | None) -> str:
    return SECTION_ORDERS[section] if section else DEFAULT_ORDER
