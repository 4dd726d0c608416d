"""Who acts: the types of the user that services, selectors, permission checks and the door receive."""

from __future__ import annotations

from typing import TypeAlias

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

# settings.AUTH_USER_MODEL is Django's own User; if it is ever swapped, these two lines change with it.

Actor: TypeAlias = User
"""A signed-in user: the one who creates, changes, shares, deletes or reveals (``None`` where the system acts)."""

Caller: TypeAlias = User | AnonymousUser
"""Whoever asks, signed in or not (``request.user``): what reads and permission checks accept, answering
an anonymous caller with nothing."""


def signed_in(user: Caller) -> Actor:
    """``request.user`` in a face that only signed-in users reach (``login_required``, the API's
    ``IsAuthenticated``, the admin), as the Actor a service takes. An anonymous caller here is a
    face that forgot its guard: refused, never passed on."""
    if isinstance(user, AnonymousUser):
        raise PermissionDenied("Sign in first.")
    return user
