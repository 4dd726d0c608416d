"""The access sweep (beat, every minute): ended shares removed, grants about to end announced, requests expired.

An ended share is already refused by the permission rules from its end on (credentials.permissions):
the sweep only tidies the rows and records it. Each step is one audited event per credential and grantee.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from config.events import raise_event
from credentials.access import events
from credentials.models import (
    AccessRequest,
    AccessRequestStatus,
    Credential,
    CredentialGroupPermission,
    CredentialUserPermission,
)
from credentials.sharing import CODE_TO_ACTION

SERVICE = "access sweep"
BATCH = 500


@dataclass
class SweepReport:
    shares_expired: int = 0  # grant rows removed
    grants_ending: int = 0  # grant rows announced as ending soon
    requests_expired: int = 0


def access_sweep() -> SweepReport:
    """One pass over ended shares, shares ending within GRANT_ENDING_NOTICE_HOURS, and unanswered requests."""
    report = SweepReport()
    now = timezone.now()
    for model, kind in ((CredentialUserPermission, "user"), (CredentialGroupPermission, "group")):
        report.shares_expired += _expire_grants(model, kind, now)
        report.grants_ending += _announce_ending(model, kind, now)
    report.requests_expired = _expire_requests(now)
    return report


def _expire_grants(model: type[CredentialUserPermission | CredentialGroupPermission], kind: str, now: datetime) -> int:
    removed = 0
    while True:
        with transaction.atomic():
            rows = list(
                model.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(expires_at__lte=now)
                .order_by("pk")
                .values_list("pk", "content_object_id", f"{kind}_id", f"{kind}__{_name(kind)}", "permission__codename")[
                    :BATCH
                ]
            )
            if not rows:
                return removed
            model.objects.filter(pk__in=[row[0] for row in rows]).delete()
            ended: dict[tuple[uuid.UUID, int, str], list[str]] = defaultdict(list)
            for _, credential_id, grantee_id, name, codename in rows:
                ended[(credential_id, grantee_id, name)].append(CODE_TO_ACTION.get(codename, codename))
            names = dict(Credential.objects.filter(pk__in={key[0] for key in ended}).values_list("pk", "name"))
            for (credential_id, grantee_id, name), actions in ended.items():
                audit_record(
                    action=AuditAction.SHARE_EXPIRED,
                    service=SERVICE,
                    credential_ref=str(credential_id),
                    credential_name=names.get(credential_id, ""),
                    details={kind: name, f"{kind}_id": grantee_id, "ended": sorted(actions)},
                )
                raise_event(
                    events.grant_expired,
                    Credential,
                    credential_id=credential_id,
                    grantee=kind,
                    grantee_id=grantee_id,
                    permissions=sorted(actions),
                    expired_at=now,
                )
            removed += len(rows)


def _announce_ending(
    model: type[CredentialUserPermission | CredentialGroupPermission], kind: str, now: datetime
) -> int:
    soon = now + timedelta(hours=settings.GRANT_ENDING_NOTICE_HOURS)
    with transaction.atomic():
        rows = list(
            model.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(expires_at__gt=now, expires_at__lte=soon, ending_noticed=False)
            .values_list("pk", "content_object_id", f"{kind}_id", "permission__codename", "expires_at")
        )
        model.objects.filter(pk__in=[row[0] for row in rows]).update(ending_noticed=True)
        for _, credential_id, grantee_id, codename, expires_at in rows:
            raise_event(
                events.grant_ending,
                Credential,
                credential_id=credential_id,
                grantee=kind,
                grantee_id=grantee_id,
                permission=CODE_TO_ACTION.get(codename, codename),
                expires_at=expires_at,
            )
    return len(rows)


def _expire_requests(now: datetime) -> int:
    with transaction.atomic():
        requests = list(
            AccessRequest.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=AccessRequestStatus.PENDING, answer_by__lte=now)
            .select_related("credential", "requester")
        )
        for request in requests:
            request.status = AccessRequestStatus.EXPIRED
            request.decided_at = now
            request.save(update_fields=["status", "decided_at"])
            audit_record(
                action=AuditAction.ACCESS_REQUEST_EXPIRED,
                service=SERVICE,
                credential=request.credential,
                details={
                    "request": str(request.pk),
                    "requester": request.requester.get_username(),
                    "permission": request.permission,
                },
            )
            raise_event(
                events.access_decided,
                AccessRequest,
                request_id=request.pk,
                credential_id=request.credential_id,
                requester_id=request.requester_id,
                permission=request.permission,
                hours=request.hours,
                status=request.status,
                decided_by_id=None,
                grant_expires_at=None,
            )
    return len(requests)


def _name(kind: str) -> str:
    return "username" if kind == "user" else "name"
