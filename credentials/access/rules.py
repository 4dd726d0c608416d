"""Who may discover a credential to request it, who approves, and the longest grant a request may get."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from config.actors import Actor
from credentials.models import Credential
from credentials.permissions import SHARE, user_can

REQUESTABLE = ("use", "view")
MAX_REASON = 1000


def discoverable(user: Actor) -> Q:
    """The active credentials ``user`` may find under "Request access": by everyone, or by a group they are in."""
    groups = user.groups.values("pk")
    return Q(is_active=True) & (Q(requestable_by_everyone=True) | Q(requestable_by__in=groups))


def max_hours(credential: Credential) -> int:
    """ACCESS_REQUEST_MAX_HOURS, or the credential's own lower cap."""
    ceiling: int = settings.ACCESS_REQUEST_MAX_HOURS
    own = credential.max_access_hours
    return min(ceiling, own) if own else ceiling


def may_approve(user: Actor, credential: Credential) -> bool:
    """Approvers are those who may share it: its owner, its team's managers, administrators."""
    return user_can(user, SHARE, credential)
