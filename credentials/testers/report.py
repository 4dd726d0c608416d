"""The credentials report: expired, expiring soon, failing their tests, never tested (active credentials only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from credentials.attention import ORDERINGS, SECTION_ORDERS, section_conditions
from credentials.models import Credential
from credentials.testers.runs import is_flagged

SECTIONS = ("expired", "expiring", "failing", "never_tested")
_COLUMNS = (
    "id", "name", "type__slug", "environment", "owner__username", "expires_at", "test_status", "last_tested",
    "test_failures", "test_message",
)  # fmt: skip


def credential_report(*, days: int, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """Rows per section; no ciphertext is read. ``failing`` is worst first (most failures in a row)."""
    conditions = section_conditions(now=now or timezone.now(), days=days)  # the sections' one definition
    active = Credential.objects.filter(is_active=True)
    rows = {
        section: active.filter(conditions[section]).order_by(*ORDERINGS[SECTION_ORDERS[section]]).values(*_COLUMNS)
        for section in SECTIONS
    }
    return {section: [_row(values) for values in rows[section]] for section in SECTIONS}


def _row(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(values["id"]),
        "name": values["name"],
        "type": values["type__slug"],
        "environment": values["environment"],
        "owner": values["owner__username"],
        "expires_at": values["expires_at"],
        "test_status": values["test_status"] or "never",
        "last_tested": values["last_tested"],
        "test_failures": values["test_failures"],
        "flagged": is_flagged(values["test_failures"]),
        # Already redacted when it was kept.
        "test_message": values["test_message"],
    }
