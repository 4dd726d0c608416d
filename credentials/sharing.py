"""Sharing a credential with users and groups: audited grants of use, view and change, never of a secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from guardian.shortcuts import assign_perm, remove_perm

from audit.models import AuditAction
from audit.services import audit_record
from config.actors import Actor
from credentials.errors import InvalidCredential
from credentials.locking import lock_credential_for
from credentials.models import Credential, CredentialGroupPermission, CredentialUserPermission
from credentials.permissions import CODENAMES, SHARE, SHAREABLE

CODE_TO_ACTION = {codename: action for action, codename in CODENAMES.items()}


@dataclass(frozen=True)
class Share:
    """Who a credential is shared with, and what they were granted."""

    kind: str  # "user" or "group"
    id: int
    name: str
    permissions: tuple[str, ...]


def _ordered(actions: set[str] | Sequence[str]) -> tuple[str, ...]:
    return tuple(action for action in SHAREABLE if action in actions)


def share_list(credential: Credential) -> list[Share]:
    """Every user and group the credential is shared with, in two queries."""
    by_grantee: dict[tuple[str, int], tuple[str, set[str]]] = {}
    user_rows = CredentialUserPermission.objects.filter(content_object=credential).values_list(
        "user_id", "user__username", "permission__codename"
    )
    group_rows = CredentialGroupPermission.objects.filter(content_object=credential).values_list(
        "group_id", "group__name", "permission__codename"
    )
    for kind, rows in (("user", user_rows), ("group", group_rows)):
        for grantee_id, name, codename in rows:
            if codename in CODE_TO_ACTION:
                by_grantee.setdefault((kind, grantee_id), (name, set()))[1].add(CODE_TO_ACTION[codename])
    shares = [
        Share(kind=kind, id=grantee_id, name=name, permissions=_ordered(actions))
        for (kind, grantee_id), (name, actions) in by_grantee.items()
    ]
    return sorted(shares, key=lambda share: (share.kind != "user", share.name.lower()))


def _check_grantee(credential: Credential, user: Actor | None, group: Group | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if (user is None) == (group is None):
        errors["__all__"] = ["Share with exactly one user or one group."]
    elif user is not None and user.pk == credential.owner_id:
        errors["user"] = ["The owner already holds every permission."]
    elif user is not None and not user.is_active:
        errors["user"] = ["This user is inactive."]
    return errors


def _check_permissions(permissions: object, errors: dict[str, list[str]], *, required: bool) -> list[str]:
    if permissions is None and not required:
        return list(SHAREABLE)
    if not isinstance(permissions, list | tuple) or (required and not permissions):
        errors["permissions"] = [f"Choose one or more of: {', '.join(SHAREABLE)}."]
        return []
    unknown = [str(p)[:20] for p in permissions if p not in SHAREABLE]
    if unknown:
        errors["permissions"] = [
            f"Unknown or unshareable permission(s) {', '.join(unknown)}; choose from {', '.join(SHAREABLE)}. "
            "Deleting and sharing stay with the owner and administrators."
        ]
    return [p for p in permissions if p in SHAREABLE]


def _current(credential: Credential, grantee: Actor | Group) -> set[str]:
    rows: QuerySet[CredentialGroupPermission] | QuerySet[CredentialUserPermission]
    if isinstance(grantee, Group):
        rows = CredentialGroupPermission.objects.filter(content_object=credential, group=grantee)
    else:
        rows = CredentialUserPermission.objects.filter(content_object=credential, user=grantee)
    codenames: Iterable[str] = rows.values_list("permission__codename", flat=True)
    return {CODE_TO_ACTION[c] for c in codenames if c in CODE_TO_ACTION}


def _grantee_details(grantee: Actor | Group) -> dict[str, Any]:
    if isinstance(grantee, Group):
        return {"group": grantee.name, "group_id": grantee.pk}
    return {"user": grantee.get_username(), "user_id": grantee.pk}


def credential_share(
    *,
    actor: Actor,
    credential_id: uuid.UUID | str,
    permissions: Sequence[str],
    user: Actor | None = None,
    group: Group | None = None,
    ip: str | None = None,
) -> Share:
    """Grant ``permissions`` on a credential to one user or one group; audited as ``shared``."""
    return _change_grants(
        actor=actor, credential_id=credential_id, permissions=permissions, user=user, group=group, ip=ip, grant=True
    )


def credential_unshare(
    *,
    actor: Actor,
    credential_id: uuid.UUID | str,
    user: Actor | None = None,
    group: Group | None = None,
    permissions: Sequence[str] | None = None,
    ip: str | None = None,
) -> Share:
    """Take back ``permissions`` (all when None) from one user or group; audited as ``unshared``."""
    return _change_grants(
        actor=actor, credential_id=credential_id, permissions=permissions, user=user, group=group, ip=ip, grant=False
    )


def _change_grants(
    *,
    actor: Actor,
    credential_id: uuid.UUID | str,
    permissions: Sequence[str] | None,
    user: Actor | None,
    group: Group | None,
    ip: str | None,
    grant: bool,
) -> Share:
    """Add (``grant``) or take back permissions in one transaction; audited only when something changed."""
    with transaction.atomic():
        credential = lock_credential_for(actor, credential_id, SHARE)
        errors = _check_grantee(credential, user, group)
        asked = set(_check_permissions(permissions, errors, required=grant))
        grantee = user if user is not None else group
        if errors or grantee is None:  # no grantee is among the errors
            raise InvalidCredential(errors)
        current = _current(credential, grantee)
        changed = _ordered(asked - current if grant else asked & current)
        change_permission = assign_perm if grant else remove_perm
        for action in changed:
            change_permission(f"credentials.{CODENAMES[action]}", grantee, credential)
        now = _ordered(current | asked if grant else current - asked)
        if changed:
            audit_record(
                action=AuditAction.SHARED if grant else AuditAction.UNSHARED,
                actor=actor,
                credential=credential,
                ip=ip,
                details={
                    **_grantee_details(grantee),
                    ("granted" if grant else "revoked"): list(changed),
                    "now": list(now),
                },
            )
    return Share(kind="user" if user is not None else "group", id=grantee.pk, name=str(grantee), permissions=now)
