"""A person's own API tokens: create one with a name (its value returned once), revoke one; each audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.views.decorators.debug import sensitive_variables
from knox.models import get_token_model

from accounts.errors import InvalidTokenRequest, TokenNotFound
from accounts.models import TOKEN_NAME_MAX_LENGTH, TokenLabel
from audit.models import AuditAction
from audit.services import audit_record
from config.actors import Actor
from config.api.authentication import delete_expired_tokens

# The most live tokens one person may hold: each is a row and a way in, and a person needs a few.
MAX_LIVE_TOKENS = 20


@dataclass(frozen=True)
class IssuedToken:
    """A token just made: its value is in memory only now (knox keeps a hash), never in a repr."""

    key: str  # knox's token_key: the value's first characters, kept in clear to find the row
    name: str
    expiry: datetime | None
    value: str = field(repr=False)


@sensitive_variables("token")
def api_token_create(*, user: Actor, name: str, ip: str | None = None) -> IssuedToken:
    """A new token for ``user`` named ``name``; refused past ``MAX_LIVE_TOKENS`` live ones."""
    name = name.strip()
    if not name:
        raise InvalidTokenRequest({"name": ["Give the token a name."]})
    if len(name) > TOKEN_NAME_MAX_LENGTH:
        raise InvalidTokenRequest({"name": [f"A token's name has at most {TOKEN_NAME_MAX_LENGTH} characters."]})
    with transaction.atomic():
        # The user's row, locked: two requests at once cannot both take the last place.
        get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
        delete_expired_tokens(user)  # what is left is live
        if get_token_model().objects.filter(user=user).count() >= MAX_LIVE_TOKENS:
            full = f"You have {MAX_LIVE_TOKENS} live tokens, the most allowed: revoke one you no longer use."
            raise InvalidTokenRequest({"__all__": [full]})
        row, token = get_token_model().objects.create(user=user)
        TokenLabel.objects.create(token=row, name=name)
        audit_record(
            action=AuditAction.TOKEN_CREATED, actor=user, ip=ip, details={"token": row.token_key, "name": name}
        )
    return IssuedToken(key=row.token_key, name=name, expiry=row.expiry, value=token)


def api_token_revoke(*, user: Actor, key: str, ip: str | None = None) -> str:
    """Delete ``user``'s token whose key is ``key`` (it stops authenticating at once); its name."""
    with transaction.atomic():
        row: Any = get_token_model().objects.filter(user=user, token_key=key).order_by("created").first()
        if row is None:
            raise TokenNotFound(key)
        name = TokenLabel.objects.filter(token=row).values_list("name", flat=True).first() or ""
        row.delete()
        audit_record(action=AuditAction.TOKEN_REVOKED, actor=user, ip=ip, details={"token": key, "name": name})
    return name
