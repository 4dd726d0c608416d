"""Who may do what to a credential: the one place that answers it, for selectors, services and faces.

Sources of access, and what each allows:

- the owner: everything;
- a superuser: everything; staff: each action whose model permission they hold
  (sharing goes with ``change_credential``);
- a share to the user or to one of their groups (django-guardian's object permissions):
  ``use``, ``view`` and ``change`` as granted, where *change* implies *view*;
- the credential's team: its members may *use* it; its managers (``auth.manage_team`` on the
  group) may use, view, change and share it.

Deleting and sharing are never granted by a share: they stay with owners, team managers
(share only) and admins (DESIGN.md invariant 5).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.auth.models import Group
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

USE = "use"
VIEW = "view"
CHANGE = "change"
DELETE = "delete"
SHARE = "share"
ACTIONS = (USE, VIEW, CHANGE, DELETE, SHARE)
SHAREABLE = (USE, VIEW, CHANGE)
# The guardian permission behind each shareable action.
CODENAMES = {USE: "use_credential", VIEW: "view_credential", CHANGE: "change_credential"}
MANAGE_TEAM = "manage_team"
MANAGE_TEAM_PERMISSION = f"auth.{MANAGE_TEAM}"

TEAM_MEMBER_ACTIONS = frozenset({USE})
TEAM_MANAGER_ACTIONS = frozenset({USE, VIEW, CHANGE, SHARE})
# The model permission a staff member needs for each action on every credential.
_ADMIN_PERMISSIONS = {
    USE: "credentials.use_credential",
    VIEW: "credentials.view_credential",
    CHANGE: "credentials.change_credential",
    DELETE: "credentials.delete_credential",
    SHARE: "credentials.change_credential",
}
# The annotations that grant_annotations() adds to each row, read back by actions_for().
FLAGS = ("_grant_use", "_grant_view", "_grant_change", "_team_member", "_team_manager")


def is_active_user(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _is_admin_for(user: Any, action: str) -> bool:
    return user.is_superuser or (user.is_staff and user.has_perm(_ADMIN_PERMISSIONS[action]))


def sees_all_credentials(user: Any) -> bool:
    return is_active_user(user) and any(_is_admin_for(user, action) for action in ACTIONS)


def shared_actions(granted: set[str] | frozenset[str]) -> set[str]:
    """What a set of granted share permissions allows: *change* implies *view*."""
    actions = {action for action in SHAREABLE if action in granted}
    if CHANGE in actions:
        actions.add(VIEW)
    return actions


# --- Query pieces, used by the selectors to answer for many rows in one statement -------------


def _user_groups(user: Any) -> QuerySet:
    return Group.objects.filter(user=user).values("pk")


def managed_teams(user: Any) -> QuerySet:
    from credentials.models import TeamManagerPermission

    return TeamManagerPermission.objects.filter(user=user, permission__codename=MANAGE_TEAM).values("content_object_id")


def visible_ids(user: Any) -> QuerySet:
    """The ids of the credentials ``user`` reaches through ownership, shares or a team, as one UNION.

    A UNION of index scans, rather than an OR of conditions over the whole table, lets the
    database start from the few rows the user reaches however large the table grows.
    """
    from credentials.models import Credential, CredentialGroupPermission, CredentialUserPermission

    codenames = list(CODENAMES.values())
    parts = [
        Credential.objects.filter(owner=user).values("pk"),
        CredentialUserPermission.objects.filter(user=user, permission__codename__in=codenames).values(
            "content_object_id"
        ),
        CredentialGroupPermission.objects.filter(
            group__in=_user_groups(user), permission__codename__in=codenames
        ).values("content_object_id"),
        Credential.objects.filter(team__in=_user_groups(user)).values("pk"),
        Credential.objects.filter(team__in=managed_teams(user)).values("pk"),
    ]
    first, *rest = (part.order_by() for part in parts)
    return first.union(*rest)


def grant_annotations(user: Any) -> dict[str, Any]:
    """Boolean annotations saying, for each credential row, which shares and team roles ``user`` has."""
    from credentials.models import CredentialGroupPermission, CredentialUserPermission

    user_grants = CredentialUserPermission.objects.filter(content_object=OuterRef("pk"), user=user)
    group_grants = CredentialGroupPermission.objects.filter(content_object=OuterRef("pk"), group__in=_user_groups(user))
    annotations: dict[str, Any] = {
        f"_grant_{action}": ExpressionWrapper(
            Q(Exists(user_grants.filter(permission__codename=codename)))
            | Q(Exists(group_grants.filter(permission__codename=codename))),
            output_field=BooleanField(),
        )
        for action, codename in CODENAMES.items()
    }
    annotations["_team_member"] = Exists(Group.user_set.through.objects.filter(group_id=OuterRef("team_id"), user=user))
    annotations["_team_manager"] = Exists(managed_teams(user).filter(content_object_id=OuterRef("team_id")))
    return annotations


# --- Answers for one credential -----------------------------------------------------------------


def _grant_flags(user: Any, credential: Any) -> dict[str, bool]:
    """The share and team flags: from the row's annotations when a selector added them, else one query."""
    if all(hasattr(credential, flag) for flag in FLAGS):
        return {flag: bool(getattr(credential, flag)) for flag in FLAGS}
    cached = getattr(credential, "_grant_flags_cache", None)
    if cached is not None and cached[0] == user.pk:
        return cached[1]
    from credentials.models import Credential

    rows = Credential.objects.filter(pk=credential.pk).order_by().annotate(**grant_annotations(user)).values(*FLAGS)
    row = next(iter(rows), None)
    flags = {flag: bool(row and row[flag]) for flag in FLAGS}
    credential._grant_flags_cache = (user.pk, flags)
    return flags


def _actions(user: Any, owner_id: Any, flags: Callable[[], Mapping[str, Any]]) -> list[str]:
    if not is_active_user(user):
        return []
    if owner_id == user.pk:
        return list(ACTIONS)
    allowed = {action for action in ACTIONS if _is_admin_for(user, action)}
    if len(allowed) < len(ACTIONS):
        granted = flags()
        allowed |= shared_actions({action for action in SHAREABLE if granted[f"_grant_{action}"]})
        if granted["_team_member"]:
            allowed |= TEAM_MEMBER_ACTIONS
        if granted["_team_manager"]:
            allowed |= TEAM_MANAGER_ACTIONS
    return [action for action in ACTIONS if action in allowed]


def actions_for(user: Any, credential: Any) -> list[str]:
    """Every action ``user`` may take on ``credential``, in ACTIONS order."""
    return _actions(user, credential.owner_id, lambda: _grant_flags(user, credential))


def actions_for_row(user: Any, row: Mapping[str, Any]) -> list[str]:
    """The same for a ``values()`` row of a selector's list, which carries ``owner_id`` and the flags."""
    return _actions(user, row["owner_id"], lambda: row)


def user_can(user: Any, action: str, credential: Any) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown credential action {action!r}")
    if not is_active_user(user):
        return False
    # The common cases answer without a query.
    if credential.owner_id == user.pk or _is_admin_for(user, action):
        return True
    return action in actions_for(user, credential)


def user_can_see(user: Any, credential: Any) -> bool:
    """Seeing a credential at all: any of use, view or change."""
    return any(action in (USE, VIEW, CHANGE) for action in actions_for(user, credential))


def user_manages_team(user: Any, team: Any) -> bool:
    if not is_active_user(user) or team is None:
        return False
    if user.is_superuser:
        return True
    return managed_teams(user).filter(content_object_id=team.pk).exists()


def user_in_team(user: Any, team: Any) -> bool:
    return is_active_user(user) and team is not None and user.groups.filter(pk=team.pk).exists()
