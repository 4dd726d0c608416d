"""A person's own live API tokens, as their page lists them: never a value or a hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from knox.models import get_token_model

from config.actors import Caller


@dataclass(frozen=True)
class TokenRow:
    key: str  # knox's token_key, the value's first characters ('lk_…')
    name: str  # empty for a token obtained from /api/auth/token/
    created: datetime
    expiry: datetime | None


def api_token_list_for_user(user: Caller) -> list[TokenRow]:
    """``user``'s tokens that still authenticate, newest first; nobody else's."""
    if not user.is_authenticated:
        return []
    live = Q(expiry__isnull=True) | Q(expiry__gt=timezone.now())
    rows = (
        get_token_model()
        .objects.filter(live, user=user)
        .order_by("-created")
        .values_list("token_key", "label__name", "created", "expiry")
    )
    return [TokenRow(key=key, name=name or "", created=created, expiry=expiry) for key, name, created, expiry in rows]
