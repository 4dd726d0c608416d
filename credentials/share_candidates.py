"""Who a credential can be shared with, by name prefix: the search behind the share form's pickers.

Only for callers who may share something (so that the search is not a directory of every user for any
signed-in account), active users only, at most ``MAX_CANDIDATES`` answers, and matched by prefix, which
PostgreSQL answers from the prefix indexes of accounts/migrations/0002_prefix_search_indexes.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from config.actors import Actor
from credentials.errors import CredentialPermissionDenied
from credentials.models import Credential
from credentials.permissions import SHARE, is_admin_for, managed_teams

MIN_PREFIX = 2
MAX_CANDIDATES = 10
KINDS = ("user", "group")


@dataclass(frozen=True)
class ShareCandidate:
    kind: str  # "user" or "group"
    name: str  # the user name or the group's name: what the share form and the API take
    full_name: str  # a user's, or "" (and always "" for a group)


def user_may_share_any(user: Actor) -> bool:
    """True for whoever may share at least one credential: its owner, a team manager, or an administrator."""
    if not user.is_active:
        return False
    if is_admin_for(user, SHARE):
        return True
    return Credential.objects.filter(owner_id=user.pk).exists() or managed_teams(user).exists()


def share_candidates(user: Actor, *, prefix: str, kinds: tuple[str, ...] = KINDS) -> list[ShareCandidate]:
    """Active users (other than ``user``) and groups whose name starts with ``prefix``, case-insensitively.

    Users come first, then groups, each alphabetically; at most MAX_CANDIDATES in all. Raises
    CredentialPermissionDenied for a caller who may share nothing, and ValueError for a prefix under MIN_PREFIX.
    """
    if len(prefix) < MIN_PREFIX:
        raise ValueError(f"a prefix of at least {MIN_PREFIX} characters is needed")
    if not user_may_share_any(user):
        raise CredentialPermissionDenied("Only those who may share a credential can search for people to share with.")
    found: list[ShareCandidate] = []
    if "user" in kinds:
        users = (
            get_user_model()
            .objects.filter(is_active=True, username__istartswith=prefix)
            .exclude(pk=user.pk)
            .order_by("username")
            .values_list("username", "first_name", "last_name")[:MAX_CANDIDATES]
        )
        found += [ShareCandidate("user", name, f"{first} {last}".strip()) for name, first, last in users]
    if "group" in kinds and len(found) < MAX_CANDIDATES:
        groups = Group.objects.filter(name__istartswith=prefix).order_by("name").values_list("name", flat=True)
        found += [ShareCandidate("group", name, "") for name in groups[: MAX_CANDIDATES - len(found)]]
    return found
