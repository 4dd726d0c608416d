"""Teams are Django groups: their members use a team's credentials, their managers change and share them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from credentials.errors import CredentialPermissionDenied
from credentials.permissions import MANAGE_TEAM, MANAGE_TEAM_PERMISSION, forget_permission_ids


def ensure_manage_team_permission(**kwargs: Any) -> None:
    """Create ``auth.manage_team`` (after every migrate, like Django's own model permissions)."""
    content_type = ContentType.objects.get_for_model(Group)
    _, created = Permission.objects.get_or_create(
        codename=MANAGE_TEAM, content_type=content_type, defaults={"name": "Can manage the team's credentials"}
    )
    if created:
        forget_permission_ids()


def team_set_manager(*, actor: Any, team: Group, user: Any, is_manager: bool) -> None:
    """Make ``user`` a manager of ``team`` (a member too), or no longer one. Superusers and group admins only."""
    if not (actor.is_superuser or (actor.is_staff and actor.has_perm("auth.change_group"))):
        raise CredentialPermissionDenied("Only administrators appoint team managers.")
    with transaction.atomic():
        if is_manager:
            ensure_manage_team_permission()
            team.user_set.add(user)
            assign_perm(MANAGE_TEAM_PERMISSION, user, team)
        else:
            remove_perm(MANAGE_TEAM_PERMISSION, user, team)
