"""Token authentication for the API: django-rest-knox's, without its per-request sweep of the user's tokens."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.models import get_token_model

from config.prepared import prepared_statements


class TokenAuthentication(auth.TokenAuthentication):
    """knox's hashed, expiring tokens; an expired token is refused (and deleted) as knox does.

    knox also reads every other token of the user on every request, to delete the expired ones:
    a query and a row object per token, on the path of every API call (a sixth of a small list
    page's time, measured with `make bench`). Those are deleted when the user next obtains a token
    (``delete_expired_tokens``), which is when they accumulate.
    """

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        # Every API call reads its token with the same statement: planned once per connection.
        with prepared_statements():
            return super().authenticate_credentials(token)

    def _cleanup_token(self, auth_token: Any) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


def delete_expired_tokens(user: Any) -> None:
    """Remove ``user``'s expired tokens (their hashes are useless, but nothing should keep them)."""
    get_token_model().objects.filter(user=user, expiry__lt=timezone.now()).delete()


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI description knox's class gets from drf-spectacular, for this subclass too."""

    target_class = TokenAuthentication  # type: ignore[assignment]  # a class or its dotted path; knox's is a path
