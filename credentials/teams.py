"""Teams are Django groups: their members use a team's credentials, their managers change and share them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from audit.models import AuditAction
from audit.services import audit_record
from config.actors import Actor
from credentials.errors import CredentialPermissionDenied
from credentials.models import Credential, TeamManagerPermission
from credentials.permissions import MANAGE_TEAM, MANAGE_TEAM_PERMISSION, forget_permission_ids, managed_teams


def ensure_manage_team_permission(**kwargs: Any) -> None:
    """Create ``auth.manage_team`` (after every migrate, like Django's own model permissions)."""
    content_type = ContentType.objects.get_for_model(Group)
    _, created = Permission.objects.get_or_create(
        codename=MANAGE_TEAM, content_type=content_type, defaults={"name": "Can manage the team's credentials"}
    )
    if created:
        forget_permission_ids()


def team_set_manager(*, actor: Actor, team: Group, user: Actor, is_manager: bool, ip: str | None = None) -> None:
    """Make ``user`` a manager of ``team`` (a member too), or no longer one. Superusers and group admins only.

    A manager may use, view, change and share every credential of the team, so each appointment
    and removal is audited like a share; asking for what already holds writes nothing.
    """
    if not (actor.is_superuser or (actor.is_staff and actor.has_perm("auth.change_group"))):
        raise CredentialPermissionDenied("Only administrators appoint team managers.")
    with transaction.atomic():
        if is_manager == managed_teams(user).filter(content_object_id=team.pk).exists():
            return
        if is_manager:
            ensure_manage_team_permission()
            team.user_set.add(user)
            assign_perm(MANAGE_TEAM_PERMISSION, user, team)
        else:
            remove_perm(MANAGE_TEAM_PERMISSION, user, team)
        audit_record(
            action=AuditAction.MANAGER_APPOINTED if is_manager else AuditAction.MANAGER_REMOVED,
            actor=actor,
            ip=ip,
            details={"team": team.name, "team_id": team.pk, "user": user.get_username(), "user_id": user.pk},
        )


@dataclass(frozen=True)
class TeamAccess:
    """What a credential's owning team holds: its members use it; its managers also view, change and share it."""

    name: str
    managers: tuple[str, ...]


def team_access(credential: Credential) -> TeamAccess | None:
    """The owning team and its managers' user names (one query), or None for a credential without a team."""
    team = credential.team
    if team is None:
        return None
    managers = (
        TeamManagerPermission.objects.filter(content_object=team, permission__codename=MANAGE_TEAM)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )
    return TeamAccess(name=team.name, managers=tuple(managers))
