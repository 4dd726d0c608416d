"""Writes about one's own notifications: the choice of how each event reaches them."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from config.actors import Actor
from notifications.errors import InvalidNotificationInput
from notifications.kinds import SUBSCRIBABLE, EmailMode, Preference, Scope
from notifications.models import Subscription


def subscription_set(*, actor: Actor, event: str, scope: str, email: str, webhook: bool) -> Preference:
    """Choose how ``event`` reaches ``actor`` (their own row only); InvalidNotificationInput names each bad field."""
    errors: dict[str, list[str]] = {}
    if event not in SUBSCRIBABLE:
        errors["event"] = [f"Choose one of: {', '.join(SUBSCRIBABLE)}."]
    if scope not in Scope.values:
        errors["scope"] = [f"Choose one of: {', '.join(Scope.values)}."]
    if email not in EmailMode.values:
        errors["email"] = [f"Choose one of: {', '.join(EmailMode.values)}."]
    if not isinstance(webhook, bool):
        errors["webhook"] = ["Must be true or false."]
    if errors:
        raise InvalidNotificationInput(errors)
    with transaction.atomic():
        Subscription.objects.update_or_create(
            user_id=actor.pk,
            event=event,
            defaults={"scope": scope, "email": email, "webhook": webhook, "updated_at": timezone.now()},
        )
    return Preference(scope, email, webhook)


def subscriptions_reset(*, actor: Actor, events: Iterable[str]) -> None:
    """Go back to the defaults for ``events`` (one statement, however many)."""
    Subscription.objects.filter(user_id=actor.pk, event__in=list(events)).delete()
