"""Reads for time-bound access: what a user may request, their requests, and the requests they may decide."""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet

from config.actors import Actor
from credentials.access.rules import discoverable, may_approve
from credentials.errors import AccessRequestNotFound, CredentialNotFound
from credentials.models import AccessRequest, AccessRequestStatus, Credential, TeamManagerPermission
from credentials.permissions import MANAGE_TEAM, SHARE, is_admin_for

# All that "Request access" shows of a credential: nothing about its fields, hosts, shares or use.
REQUESTABLE_COLUMNS = ("id", "name", "type__name", "type__slug", "environment", "owner__username", "description")


def requestable_credentials_for_user(user: Actor) -> QuerySet[Credential, dict]:
    """The credentials ``user`` may discover and request, by name: only REQUESTABLE_COLUMNS. Not their own."""
    rows = Credential.objects.filter(discoverable(user)).exclude(owner_id=user.pk).order_by("name", "environment")
    return rows.values(*REQUESTABLE_COLUMNS)


def requestable_credential_for_user(user: Actor, *, credential_id: uuid.UUID | str) -> Credential:
    """One credential ``user`` may request (its owner and type joined); CredentialNotFound otherwise."""
    try:
        return (
            Credential.objects.filter(discoverable(user))
            .select_related("owner", "type")
            .get(pk=uuid.UUID(str(credential_id)))
        )
    except (ValueError, Credential.DoesNotExist):
        raise CredentialNotFound() from None


def access_requests_of_user(user: Actor) -> QuerySet[AccessRequest]:
    """The requests ``user`` made, newest first."""
    return AccessRequest.objects.filter(requester=user).select_related("credential", "decided_by")


def _decidable_by(user: Actor) -> Q:
    """Requests on credentials ``user`` may share (owner, team manager, administrator), never their own."""
    if is_admin_for(user, SHARE):
        mine = Q()
    else:
        # By the permission's codename, joined in the subquery: the navigation's count stays one query.
        managed = TeamManagerPermission.objects.filter(user_id=user.pk, permission__codename=MANAGE_TEAM)
        mine = Q(credential__owner_id=user.pk) | Q(credential__team_id__in=managed.values("content_object_id"))
    return mine & ~Q(requester_id=user.pk)


def access_requests_to_review(user: Actor, *, pending_only: bool = True) -> QuerySet[AccessRequest]:
    """The requests ``user`` may approve or deny, oldest first (pending ones only unless asked)."""
    rows = AccessRequest.objects.filter(_decidable_by(user)).select_related("credential", "requester", "decided_by")
    if pending_only:
        rows = rows.filter(status=AccessRequestStatus.PENDING)
    return rows.order_by("created_at")


def pending_review_count(user: Actor) -> int:
    """How many requests wait for ``user``'s decision (the navigation's count): one query."""
    return AccessRequest.objects.filter(_decidable_by(user), status=AccessRequestStatus.PENDING).count()


def access_request_get_for_user(user: Actor, *, request_id: uuid.UUID | str) -> AccessRequest:
    """One request, for its requester or one of its approvers; AccessRequestNotFound for anyone else."""
    try:
        request = AccessRequest.objects.select_related("credential", "requester", "decided_by").get(
            pk=uuid.UUID(str(request_id))
        )
    except (ValueError, AccessRequest.DoesNotExist):
        raise AccessRequestNotFound() from None
    if request.requester_id != user.pk and not may_approve(user, request.credential):
        raise AccessRequestNotFound()
    return request
