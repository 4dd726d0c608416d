"""Access requests, each step one audited event: asked, approved (a grant with an end), denied, cancelled."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from config.actors import Actor
from config.events import raise_event
from credentials.access import events
from credentials.access.rules import MAX_REASON, REQUESTABLE, discoverable, max_hours, may_approve
from credentials.errors import (
    AccessRequestClosed,
    AccessRequestNotFound,
    CredentialNotFound,
    CredentialPermissionDenied,
    InvalidCredential,
)
from credentials.locking import lock_credential_for
from credentials.models import AccessRequest, AccessRequestStatus, Credential
from credentials.permissions import SHARE, actions_for, user_can_see
from credentials.sharing import held_grants, set_grant
from credentials.validation import has_unstorable


def _check_reason(reason: object, errors: dict[str, list[str]], field: str = "reason") -> str:
    if not isinstance(reason, str) or not reason.strip():
        errors[field] = ["Say why, in a sentence."]
        return ""
    if len(reason) > MAX_REASON or has_unstorable(reason):
        errors[field] = [f"Use at most {MAX_REASON} characters, without null or invalid characters."]
        return ""
    return reason.strip()


def _check_hours(hours: object, cap: int | None, errors: dict[str, list[str]]) -> int:
    if not isinstance(hours, int) or isinstance(hours, bool):
        errors["hours"] = ["Enter a whole number of hours."]
        return 0
    if hours < 1:
        errors["hours"] = ["Ask for one hour or more."]
    elif cap is not None and hours > cap:
        errors["hours"] = [f"Ask for at most {cap} hours: the longest this credential may be granted for."]
    return hours


def access_request_create(
    *,
    actor: Actor,
    credential_id: uuid.UUID | str,
    permission: str,
    hours: int,
    reason: str,
    ip: str | None = None,
) -> AccessRequest:
    """Ask for *use* or *view* of a credential one may discover, for ``hours``; audited as ``access_requested``.

    A credential the actor may not discover answers CredentialNotFound (a 404), whatever else they
    may do with it; bad input, a permission already held or already asked for, InvalidCredential.
    """
    errors: dict[str, list[str]] = {}
    if permission not in REQUESTABLE:
        errors["permission"] = [f"Ask for one of: {', '.join(REQUESTABLE)}."]
    reason = _check_reason(reason, errors)
    with transaction.atomic():
        try:
            credential = (
                Credential.objects.select_for_update(of=("self",))
                .filter(discoverable(actor))
                .get(pk=uuid.UUID(str(credential_id)))
            )
        except (ValueError, Credential.DoesNotExist):
            raise CredentialNotFound() from None
        hours = _check_hours(hours, max_hours(credential), errors)
        if "permission" not in errors:
            if permission in actions_for(actor, credential):
                errors["permission"] = [f"You may already {permission} this credential."]
            elif AccessRequest.objects.filter(
                credential=credential, requester=actor, permission=permission, status=AccessRequestStatus.PENDING
            ).exists():
                errors["permission"] = ["You already asked for this; wait for the answer, or cancel it."]
        if errors:
            raise InvalidCredential(errors)
        now = timezone.now()
        request = AccessRequest.objects.create(
            credential=credential,
            requester=actor,
            permission=permission,
            hours=hours,
            reason=reason,
            created_at=now,
            answer_by=now + timedelta(hours=settings.ACCESS_REQUEST_TTL_HOURS),
        )
        audit_record(
            action=AuditAction.ACCESS_REQUESTED,
            actor=actor,
            credential=credential,
            ip=ip,
            details={**_request_details(request), "reason": reason, "answer_by": request.answer_by.isoformat()},
        )
        raise_event(events.access_requested, AccessRequest, **_event_facts(request))
    return request


def access_request_approve(*, actor: Actor, request_id: uuid.UUID | str, ip: str | None = None) -> AccessRequest:
    """Grant what was asked, ending ``hours`` from now; audited as ``access_request_approved``.

    A grant the requester already holds for longer (or without an end) is left as it is.
    """
    with transaction.atomic():
        request = _decidable(actor, request_id)
        credential = request.credential
        now = timezone.now()
        end = now + timedelta(hours=request.hours)
        held = held_grants(credential, request.requester)
        end_held = held.get(request.permission, end - timedelta(seconds=1))  # absent: shorter than asked
        if end_held is None or end_held >= end:
            end_granted: datetime | None = end_held
        else:
            set_grant(credential, request.requester, request.permission, end)
            end_granted = end
        _decide(request, actor, AccessRequestStatus.APPROVED, now, grant_expires_at=end_granted)
        audit_record(
            action=AuditAction.ACCESS_REQUEST_APPROVED,
            actor=actor,
            credential=credential,
            ip=ip,
            details={**_request_details(request), "grant_expires_at": end_granted.isoformat() if end_granted else None},
        )
        raise_event(events.access_decided, AccessRequest, **_event_facts(request))
    return request


def access_request_deny(
    *, actor: Actor, request_id: uuid.UUID | str, reason: str, ip: str | None = None
) -> AccessRequest:
    """Refuse a request, saying why; audited as ``access_request_denied``."""
    errors: dict[str, list[str]] = {}
    reason = _check_reason(reason, errors)
    with transaction.atomic():
        request = _decidable(actor, request_id)
        if errors:
            raise InvalidCredential(errors)
        _decide(request, actor, AccessRequestStatus.DENIED, timezone.now(), reason=reason)
        audit_record(
            action=AuditAction.ACCESS_REQUEST_DENIED,
            actor=actor,
            credential=request.credential,
            ip=ip,
            details={**_request_details(request), "reason": reason},
        )
        raise_event(events.access_decided, AccessRequest, **_event_facts(request))
    return request


def access_request_cancel(*, actor: Actor, request_id: uuid.UUID | str, ip: str | None = None) -> AccessRequest:
    """The requester withdraws a pending request; audited as ``access_request_cancelled``."""
    with transaction.atomic():
        request = _locked_request(request_id)
        if request.requester_id != actor.pk:
            if may_approve(actor, request.credential):
                raise CredentialPermissionDenied("Only the requester cancels a request; deny it instead.")
            raise AccessRequestNotFound()
        _check_open(request)
        _decide(request, None, AccessRequestStatus.CANCELLED, timezone.now())
        audit_record(
            action=AuditAction.ACCESS_REQUEST_CANCELLED,
            actor=actor,
            credential=request.credential,
            ip=ip,
            details=_request_details(request),
        )
        raise_event(events.access_decided, AccessRequest, **_event_facts(request))
    return request


def credential_set_requestable(
    *,
    actor: Actor,
    credential_id: uuid.UUID | str,
    group: Group | None = None,
    everyone: bool = False,
    max_access_hours: int | None = None,
    ip: str | None = None,
) -> Credential:
    """Say who may discover the credential and request access (a group, everyone signed in, or nobody), and the
    longest grant a request may get; needs *share*. Audited as ``requestable_changed`` when it changes."""
    errors: dict[str, list[str]] = {}
    if not isinstance(everyone, bool):
        errors["everyone"] = ["Enter true or false."]
    if everyone is True and group is not None:
        errors["group"] = ["Name a group, or make it requestable by everyone signed in; not both."]
    if max_access_hours is not None:
        _check_hours(max_access_hours, settings.ACCESS_REQUEST_MAX_HOURS, errors)
        if "hours" in errors:
            errors["max_access_hours"] = errors.pop("hours")
    with transaction.atomic():
        credential = lock_credential_for(actor, credential_id, SHARE)
        if errors:
            raise InvalidCredential(errors)
        before = _requestable(credential)
        credential.requestable_by = group
        credential.requestable_by_everyone = everyone
        credential.max_access_hours = max_access_hours
        after = _requestable(credential)
        if after != before:
            credential.save(update_fields=["requestable_by", "requestable_by_everyone", "max_access_hours"])
            audit_record(
                action=AuditAction.REQUESTABLE_CHANGED,
                actor=actor,
                credential=credential,
                ip=ip,
                details={"old": before, "new": after},
            )
    return credential


def _requestable(credential: Credential) -> dict[str, Any]:
    group = credential.requestable_by
    return {
        "group": group.name if group is not None else None,
        "everyone": credential.requestable_by_everyone,
        "max_access_hours": credential.max_access_hours,
    }


def _locked_request(request_id: uuid.UUID | str) -> AccessRequest:
    try:
        return (
            AccessRequest.objects.select_for_update(of=("self",))
            .select_related("credential", "requester")
            .get(pk=uuid.UUID(str(request_id)))
        )
    except (ValueError, AccessRequest.DoesNotExist):
        raise AccessRequestNotFound() from None


def _decidable(actor: Actor, request_id: uuid.UUID | str) -> AccessRequest:
    """The request locked for a decision by ``actor``: an approver who is not its requester, while it is open."""
    request = _locked_request(request_id)
    credential = request.credential
    if request.requester_id == actor.pk:
        raise CredentialPermissionDenied("Nobody approves or denies their own request.")
    if not may_approve(actor, credential):
        if user_can_see(actor, credential):
            raise CredentialPermissionDenied("Only its owner, its team's managers and administrators decide.")
        raise AccessRequestNotFound()
    _check_open(request)
    if not request.requester.is_active:
        raise AccessRequestClosed("The requester's account is no longer active.")
    return request


def _check_open(request: AccessRequest) -> None:
    if request.status != AccessRequestStatus.PENDING:
        raise AccessRequestClosed(f"This request was already {request.get_status_display().lower()}.")
    if request.answer_by <= timezone.now():
        raise AccessRequestClosed("This request waited past its time and has expired; ask again.")


def _decide(
    request: AccessRequest,
    actor: Actor | None,
    status: str,
    now: datetime,
    *,
    reason: str = "",
    grant_expires_at: datetime | None = None,
) -> None:
    request.status = status
    request.decided_by = actor
    request.decided_at = now
    request.decision_reason = reason
    request.grant_expires_at = grant_expires_at
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "grant_expires_at"])


def _request_details(request: AccessRequest) -> dict[str, Any]:
    return {
        "request": str(request.pk),
        "requester": request.requester.get_username(),
        "requester_id": request.requester_id,
        "permission": request.permission,
        "hours": request.hours,
    }


def _event_facts(request: AccessRequest) -> dict[str, Any]:
    return {
        "request_id": request.pk,
        "credential_id": request.credential_id,
        "requester_id": request.requester_id,
        "permission": request.permission,
        "hours": request.hours,
        "status": request.status,
        "decided_by_id": request.decided_by_id,
        "grant_expires_at": request.grant_expires_at,
    }
