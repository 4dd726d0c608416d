"""Reads for the faces: a person's choices for every event, the endpoints they manage, an endpoint's delivery log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from config.actors import Actor
from credentials.permissions import managed_teams
from notifications.errors import EndpointNotFound
from notifications.kinds import DEFAULTS, SUBSCRIBABLE, EventKind, Preference
from notifications.models import DeliveryAttempt, Subscription, WebhookEndpoint


@dataclass(frozen=True)
class Choice:
    """One event and how it reaches the person: their own choice, or the default."""

    event: str
    label: str
    preference: Preference
    is_default: bool


def subscriptions_for_user(user: Actor) -> list[Choice]:
    """Every subscribable event, in order, with the user's choice or the default (one query)."""
    rows = {s.event: s for s in Subscription.objects.filter(user_id=user.pk)}
    choices = []
    for event in SUBSCRIBABLE:
        row = rows.get(event)
        preference = Preference(row.scope, row.email, row.webhook) if row else DEFAULTS[event]
        choices.append(Choice(event, EventKind(event).label, preference, row is None))
    return choices


def endpoints_for_user(user: Actor) -> QuerySet[WebhookEndpoint]:
    """The endpoints ``user`` manages: their own, their managed teams', and the global ones for administrators."""
    if user.is_superuser:
        return WebhookEndpoint.objects.select_related("user", "team")
    teams = managed_teams(user).values("content_object_id")
    return WebhookEndpoint.objects.filter(Q(user_id=user.pk) | Q(team_id__in=teams)).select_related("user", "team")


def endpoint_for_user(user: Actor, endpoint_id: Any, *, lock: bool = False) -> WebhookEndpoint:
    """One endpoint ``user`` manages; EndpointNotFound (404) for any other, or a malformed id.

    ``lock``: its row locked for the caller's transaction (one deleted meanwhile is not found).
    """
    rows = endpoints_for_user(user)
    if lock:  # the endpoint's row only: FOR UPDATE may not reach the nullable side of its joins
        rows = rows.select_for_update(of=("self",))
    try:
        return rows.get(pk=endpoint_id)
    except (WebhookEndpoint.DoesNotExist, ValidationError, ValueError, TypeError):  # a malformed id too
        raise EndpointNotFound() from None


def delivery_log(endpoint: WebhookEndpoint) -> QuerySet[DeliveryAttempt]:
    """The endpoint's attempts, newest first, with their delivery's event: times, status codes, attempt numbers."""
    return DeliveryAttempt.objects.filter(delivery__endpoint=endpoint).select_related("delivery").order_by("-at", "-pk")
