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
(share only) and admins (ARCHITECTURE.md, invariant 5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict, TypeGuard

from django.contrib.auth.models import Group
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from config.actors import Actor, Caller

if TYPE_CHECKING:
    from credentials.models import Credential, TeamManagerPermission

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


def is_active_user(user: Caller | None) -> TypeGuard[Actor]:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_admin_for(user: Actor, action: str) -> bool:
    return user.is_superuser or (user.is_staff and user.has_perm(_ADMIN_PERMISSIONS[action]))


def sees_all_credentials(user: Caller | None) -> bool:
    return is_active_user(user) and any(is_admin_for(user, action) for action in ACTIONS)


def shared_actions(granted: set[str] | frozenset[str]) -> set[str]:
    """What a set of granted share permissions allows: *change* implies *view*."""
    actions = {action for action in SHAREABLE if action in granted}
    if CHANGE in actions:
        actions.add(VIEW)
    return actions


# --- Query pieces, used by the selectors to answer for many rows in one statement -------------


_permission_ids: dict[str, int] = {}


def permission_ids() -> dict[str, int]:
    """The ids of the share and team permissions, read once per process.

    Filtering on ids, rather than joining auth_permission in every subquery, keeps the list's
    statement small to plan. Permission rows are made by migrate and never change after it;
    the cache is dropped after every migrate (and test-database flush) by credentials.apps.
    """
    if not _permission_ids:
        from django.contrib.auth.models import Permission

        wanted = [*CODENAMES.values(), MANAGE_TEAM]
        rows = Permission.objects.filter(codename__in=wanted, content_type__app_label__in=["credentials", "auth"])
        _permission_ids.update(rows.values_list("codename", "pk"))
    return _permission_ids


def forget_permission_ids(**kwargs: object) -> None:
    _permission_ids.clear()


class _ManagedTeam(TypedDict):
    content_object_id: int


def managed_teams(user: Actor) -> QuerySet[TeamManagerPermission, _ManagedTeam]:
    from credentials.models import TeamManagerPermission

    return TeamManagerPermission.objects.filter(
        user_id=user.pk,
        # None (migrate has not made the permission yet) matches no row; the stubs expect an id.
        permission_id=permission_ids().get(MANAGE_TEAM),  # type: ignore[misc]
    ).values("content_object_id")


# The list's permission logic is written as SQL subqueries, each independent of the outer row:
# the database runs each once and probes a hash per row. Built with the ORM, the same dozen
# subqueries cost more to assemble and compile than the database takes to run them
# (measured by `make bench`). Tables are the models' own; every value is a parameter.
def _tables() -> dict[str, str]:
    from credentials.models import (
        Credential,
        CredentialGroupPermission,
        CredentialUserPermission,
        TeamManagerPermission,
    )

    return {
        "credential": Credential._meta.db_table,
        "user_grant": CredentialUserPermission._meta.db_table,
        "group_grant": CredentialGroupPermission._meta.db_table,
        "manager": TeamManagerPermission._meta.db_table,
        "membership": Group.user_set.through._meta.db_table,
    }


# The parameters of those subqueries: ids (a caller who is not signed in has none), and the time.
_Params = list[int | datetime | None]

# A share with an end is honoured up to the instant before it (credentials.access sweeps the rows
# later; the answer never waits for the sweep). The time is the application's, passed in, so that
# every face and the worker agree on it with the clock the rest of the code reads.
_UNEXPIRED = "(expires_at IS NULL OR expires_at > %s)"


def _granted_sql(user: Caller, codenames: list[str], *, repeats: bool = False) -> tuple[str, _Params]:
    """Ids of the credentials shared with ``user``, directly or through a group, with any of ``codenames``,
    by shares that have not ended; with ``repeats``, an id shared both ways may come twice."""
    ids = [permission_ids()[codename] for codename in codenames]
    marks = ", ".join(["%s"] * len(ids))
    now = timezone.now()
    sql = (
        "SELECT content_object_id FROM {user_grant} WHERE user_id = %s AND permission_id IN ({marks}) "
        "AND {unexpired} "
        "UNION{all} SELECT content_object_id FROM {group_grant} WHERE permission_id IN ({marks}) AND {unexpired} "
        "AND group_id IN (SELECT group_id FROM {membership} WHERE user_id = %s)"
    ).format(marks=marks, unexpired=_UNEXPIRED, all=" ALL" if repeats else "", **_tables())
    return sql, [user.pk, *ids, now, *ids, now, user.pk]


def _teams_sql(user: Caller) -> tuple[str, _Params]:
    return "SELECT group_id FROM {membership} WHERE user_id = %s".format(**_tables()), [user.pk]


def _managed_sql(user: Caller) -> tuple[str, _Params]:
    sql = "SELECT content_object_id FROM {manager} WHERE user_id = %s AND permission_id = %s".format(**_tables())
    return sql, [user.pk, permission_ids().get(MANAGE_TEAM)]


def visible_ids(user: Actor) -> RawSQL:
    """The ids of the credentials ``user`` reaches through ownership, shares or a team, as one UNION.

    A UNION of index scans, rather than an OR of conditions over the whole table, lets the
    database start from the few rows the user reaches however large the table grows.
    """
    tables = _tables()
    granted, granted_params = _granted_sql(user, list(CODENAMES.values()))
    teams, teams_params = _teams_sql(user)
    managed, managed_params = _managed_sql(user)
    sql = (
        f"SELECT id FROM {tables['credential']} WHERE owner_id = %s "
        f"UNION {granted} "
        f"UNION SELECT id FROM {tables['credential']} WHERE team_id IN ({teams}) "
        f"UNION SELECT id FROM {tables['credential']} WHERE team_id IN ({managed})"
    )
    return RawSQL(sql, [user.pk, *granted_params, *teams_params, *managed_params])


def _flag(condition: Q) -> ExpressionWrapper[Q]:
    return ExpressionWrapper(condition, output_field=BooleanField())


class FlagTest(NamedTuple):
    """One of the FLAGS: true for a credential row whose ``column`` is among the ids ``sql`` selects."""

    flag: str
    column: str  # the credential's own column: "id" or "team_id"
    sql: str
    params: _Params


def flag_tests(user: Caller) -> list[FlagTest]:
    """The test behind each of the FLAGS, in FLAGS order: which shares and team roles ``user`` has on a row."""
    tests = [
        # Repeats kept: IN hashes the list anyway, so removing them first would be work done twice.
        FlagTest(f"_grant_{action}", "id", *_granted_sql(user, [codename], repeats=True))
        for action, codename in CODENAMES.items()
    ]
    tests.append(FlagTest("_team_member", "team_id", *_teams_sql(user)))
    tests.append(FlagTest("_team_manager", "team_id", *_managed_sql(user)))
    return tests


def grant_annotations(user: Caller) -> dict[str, ExpressionWrapper[Q]]:
    """Boolean annotations saying, for each credential row, which shares and team roles ``user`` has."""
    return {test.flag: _flag(Q(**{f"{test.column}__in": RawSQL(test.sql, test.params)})) for test in flag_tests(user)}


# --- Answers for one credential -----------------------------------------------------------------


# Where _grant_flags keeps its answer on a row it had to query for: (the user's id, the flags).
_FLAGS_CACHE = "_grant_flags_cache"


def _grant_flags(user: Actor, credential: Credential) -> dict[str, bool]:
    """The share and team flags: from the row's annotations when a selector added them, else one query."""
    if all(hasattr(credential, flag) for flag in FLAGS):
        return {flag: bool(getattr(credential, flag)) for flag in FLAGS}
    cached: tuple[int, dict[str, bool]] | None = getattr(credential, _FLAGS_CACHE, None)
    if cached is not None and cached[0] == user.pk:
        return cached[1]
    from credentials.models import Credential

    rows = Credential.objects.filter(pk=credential.pk).order_by().annotate(**grant_annotations(user)).values(*FLAGS)
    row = next(iter(rows), None)
    flags = {flag: bool(row and row[flag]) for flag in FLAGS}
    setattr(credential, _FLAGS_CACHE, (user.pk, flags))
    return flags


def _actions(user: Caller | None, owner_id: int, flags: Callable[[Actor], Mapping[str, Any]]) -> list[str]:
    if not is_active_user(user):
        return []
    if owner_id == user.pk:
        return list(ACTIONS)
    allowed = {action for action in ACTIONS if is_admin_for(user, action)}
    if len(allowed) < len(ACTIONS):
        granted = flags(user)
        allowed |= shared_actions({action for action in SHAREABLE if granted[f"_grant_{action}"]})
        if granted["_team_member"]:
            allowed |= TEAM_MEMBER_ACTIONS
        if granted["_team_manager"]:
            allowed |= TEAM_MANAGER_ACTIONS
    return [action for action in ACTIONS if action in allowed]


def actions_for(user: Caller | None, credential: Credential) -> list[str]:
    """Every action ``user`` may take on ``credential``, in ACTIONS order."""
    return _actions(user, credential.owner_id, lambda active: _grant_flags(active, credential))


def actions_for_row(user: Caller | None, row: Mapping[str, Any]) -> list[str]:
    """The same for a ``values()`` row of a selector's list, which carries ``owner_id`` and the flags."""
    return _actions(user, row["owner_id"], lambda active: row)


def actions_for_rows(user: Caller | None, rows: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """``actions_for_row`` for each row of a list, in order.

    The answer depends only on whether the caller owns the row and on its flags, so a page asks
    once for each pattern it holds (a handful), not once per row.
    """
    answers: dict[tuple[bool, ...], list[str]] = {}
    result = []
    for row in rows:
        key = (row["owner_id"] == getattr(user, "pk", None), *(bool(row[flag]) for flag in FLAGS))
        if key not in answers:
            answers[key] = actions_for_row(user, row)
        result.append(list(answers[key]))  # a list each: no row's answer is another's to change
    return result


def user_can(user: Caller | None, action: str, credential: Credential) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown credential action {action!r}")
    if not is_active_user(user):
        return False
    # The common cases answer without a query.
    if credential.owner_id == user.pk or is_admin_for(user, action):
        return True
    return action in actions_for(user, credential)


def user_can_see(user: Caller | None, credential: Credential) -> bool:
    """Seeing a credential at all: any of use, view or change."""
    return any(action in (USE, VIEW, CHANGE) for action in actions_for(user, credential))


def user_manages_team(user: Caller | None, team: Group | None) -> bool:
    if not is_active_user(user) or team is None:
        return False
    if user.is_superuser:
        return True
    return managed_teams(user).filter(content_object_id=team.pk).exists()


def user_in_team(user: Caller | None, team: Group | None) -> bool:
    return is_active_user(user) and team is not None and user.groups.filter(pk=team.pk).exists()
