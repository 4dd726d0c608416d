"""The credentials report: expired, expiring soon, failing their tests, never tested (active credentials only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from credentials.models import Credential, CredentialTestStatus
from credentials.testers.runs import is_flagged

SECTIONS = ("expired", "expiring", "failing", "never_tested")
_COLUMNS = (
    "id", "name", "type__slug", "environment", "owner__username", "expires_at", "test_status", "last_tested",
    "test_failures", "test_message",
)  # fmt: skip


def credential_report(*, days: int, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """Rows per section; no ciphertext is read. ``failing`` is worst first (most failures in a row)."""
    now = now or timezone.now()
    active = Credential.objects.filter(is_active=True)
    queries = {
        "expired": active.filter(expires_at__lte=now).order_by("expires_at"),
        "expiring": active.filter(expires_at__gt=now, expires_at__lte=now + timedelta(days=days)).order_by(
            "expires_at"
        ),
        "failing": active.filter(test_status=CredentialTestStatus.FAILED).order_by("-test_failures", "name"),
        "never_tested": active.filter(test_status=CredentialTestStatus.NEVER, last_tested__isnull=True).order_by(
            "created_at"
        ),
    }
    return {section: [_row(values) for values in queries[section].values(*_COLUMNS)] for section in SECTIONS}


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
