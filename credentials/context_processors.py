"""What every page's navigation shows of time-bound access: how many requests wait for this user's decision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from config.actors import Actor, signed_in
from credentials.access.selectors import access_requests_to_review
from credentials.models import AccessRequestStatus


@dataclass(frozen=True)
class Reviews:
    pending: int  # pending_review_count: the requests waiting for this user's decision
    shown: bool  # whether the navigation offers "Review requests" at all


def _reviews(actor: Actor) -> Reviews:
    # One query for both answers, over the selector's own rows (so ``pending`` is pending_review_count):
    # someone who has ever had a request to decide keeps the link at zero; superusers may decide anything.
    counts = access_requests_to_review(actor, pending_only=False).aggregate(
        pending=Count("pk", filter=Q(status=AccessRequestStatus.PENDING)), ever=Count("pk")
    )
    return Reviews(pending=counts["pending"], shown=bool(counts["ever"]) or actor.is_superuser)


def access_reviews(request: HttpRequest) -> dict[str, Any]:
    """``access_reviews``: for a signed-in user, counted once, and only when a template reads it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    actor = signed_in(user)
    return {"access_reviews": SimpleLazyObject(lambda: _reviews(actor))}
