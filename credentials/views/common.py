"""What every credential page needs: the caller's address, the credential they may see, what they may do."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from credentials.errors import CredentialNotFound
from credentials.models import Credential
from credentials.permissions import actions_for
from credentials.selectors import credential_get_for_user

# The icons the stylesheet's sprite draws; a custom type naming another gets the generic key.
KNOWN_ICONS = frozenset({"key", "github", "gitlab", "terminal", "database", "globe"})


def visible_credential(request: HttpRequest, pk: Any) -> tuple[Credential, list[str]]:
    """The credential and what the caller may do with it; 404 when they may not see it (invariant 5)."""
    try:
        credential = credential_get_for_user(request.user, credential_id=pk)
    except CredentialNotFound:
        raise Http404("Credential not found.") from None
    return credential, actions_for(request.user, credential)


def require(allowed: list[str], action: str, message: str) -> None:
    """403 for a caller who sees the credential but may not do this to it."""
    if action not in allowed:
        raise PermissionDenied(message)


def icon_of(icon: str) -> str:
    return icon if icon in KNOWN_ICONS else "key"
