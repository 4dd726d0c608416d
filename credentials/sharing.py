"""Sharing a credential with users and groups: audited grants of use, view and change, never of a secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from config.actors import Actor
from config.events import raise_event
from credentials import events
from credentials.errors import InvalidCredential
from credentials.locking import lock_credential_for
from credentials.models import Credential, CredentialGroupPermission, CredentialUserPermission
from credentials.permissions import CODENAMES, SHARE, SHAREABLE, permission_ids

CODE_TO_ACTION = {codename: action for action, codename in CODENAMES.items()}


@dataclass(frozen=True)
class Share:
    """Who a credential is shared with, what they were granted, and until when (None: no end)."""

    kind: str  # "user" or "group"
    id: int
    name: str
    permissions: tuple[str, ...]
    ends: tuple[datetime | None, ...] = ()  # one per permission, in the same order

    @property
    def expires_at(self) -> dict[str, datetime | None]:
        return dict(zip(self.permissions, self.ends, strict=True))

    @property
    def grants(self) -> list[tuple[str, datetime | None]]:
        """Each permission with its end, in order: what the pages print."""
        return list(zip(self.permissions, self.ends, strict=True))


def _ordered(actions: set[str] | Sequence[str]) -> tuple[str, ...]:
    return tuple(action for action in SHAREABLE if action in actions)


def _grant_rows(credential: Credential, grantee: Actor | Group | None = None) -> GrantRows:
    """The credential's grant rows that are still honoured (an ended one waits for the sweep, unhonoured)."""
    unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    if isinstance(grantee, Group):
        return CredentialGroupPermission.objects.filter(unexpired, content_object=credential, group=grantee)
    return CredentialUserPermission.objects.filter(unexpired, content_object=credential, user=grantee)


GrantRows = QuerySet[CredentialGroupPermission] | QuerySet[CredentialUserPermission]


def share_list(credential: Credential) -> list[Share]:
    """Every user and group the credential is shared with, by shares still honoured, in two queries."""
    by_grantee: dict[tuple[str, int], tuple[str, dict[str, datetime | None]]] = {}
    unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    user_rows = CredentialUserPermission.objects.filter(unexpired, content_object=credential).values_list(
        "user_id", "user__username", "permission__codename", "expires_at"
    )
    group_rows = CredentialGroupPermission.objects.filter(unexpired, content_object=credential).values_list(
        "group_id", "group__name", "permission__codename", "expires_at"
    )
    for kind, rows in (("user", user_rows), ("group", group_rows)):
        for grantee_id, name, codename, expires_at in rows:
            if codename in CODE_TO_ACTION:
                by_grantee.setdefault((kind, grantee_id), (name, {}))[1][CODE_TO_ACTION[codename]] = expires_at
    shares = [_share(kind, grantee_id, name, ends) for (kind, grantee_id), (name, ends) in by_grantee.items()]
    return sorted(shares, key=lambda share: (share.kind != "user", share.name.lower()))


def _share(kind: str, grantee_id: int, name: str, ends: dict[str, datetime | None]) -> Share:
    permissions = _ordered(set(ends))
    return Share(kind=kind, id=grantee_id, name=name, permissions=permissions, ends=tuple(ends[p] for p in permissions))


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


def _check_end(expires_at: object, errors: dict[str, list[str]]) -> None:
    if expires_at is None:
        return
    if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
        errors["expires_at"] = ["Enter a date and time with a time zone, or nothing for a share without an end."]
    elif expires_at <= timezone.now():
        errors["expires_at"] = ["Enter a time in the future."]


def held_grants(credential: Credential, grantee: Actor | Group) -> dict[str, datetime | None]:
    """What ``grantee`` holds directly on the credential, by shares still honoured: action -> its end."""
    rows: Iterable[tuple[str, datetime | None]] = _grant_rows(credential, grantee).values_list(
        "permission__codename", "expires_at"
    )
    return {CODE_TO_ACTION[codename]: end for codename, end in rows if codename in CODE_TO_ACTION}


def set_grant(credential: Credential, grantee: Actor | Group, action: str, expires_at: datetime | None) -> None:
    """Hold ``action`` until ``expires_at`` (None: no end), whether or not a row (perhaps ended) exists.

    No check and no event: callers are the audited services (this module, credentials.access).
    """
    permission_id = permission_ids()[CODENAMES[action]]
    values = {"expires_at": expires_at, "ending_noticed": False}
    if isinstance(grantee, Group):
        CredentialGroupPermission.objects.update_or_create(
            content_object=credential, group=grantee, permission_id=permission_id, defaults=values
        )
    else:
        CredentialUserPermission.objects.update_or_create(
            content_object=credential, user=grantee, permission_id=permission_id, defaults=values
        )


def _drop_grants(credential: Credential, grantee: Actor | Group, actions: Iterable[str]) -> None:
    permission_ids_ = [permission_ids()[CODENAMES[action]] for action in actions]
    model = CredentialGroupPermission if isinstance(grantee, Group) else CredentialUserPermission
    kind = "group" if isinstance(grantee, Group) else "user"
    model.objects.filter(content_object=credential, permission_id__in=permission_ids_, **{kind: grantee}).delete()


def grantee_details(grantee: Actor | Group) -> dict[str, Any]:
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
    expires_at: datetime | None = None,
    ip: str | None = None,
) -> Share:
    """Grant ``permissions`` on a credential to one user or one group, until ``expires_at`` (None: no end).

    New grants are audited as ``shared``; a held grant given another end (extended, shortened or
    made permanent) as ``share_changed``; asking for what is already held, with the same end, writes nothing.
    """
    with transaction.atomic():
        credential, grantee, asked = _locked_for_sharing(actor, credential_id, user, group, permissions, True)
        errors: dict[str, list[str]] = {}
        _check_end(expires_at, errors)
        if errors:
            raise InvalidCredential(errors)
        held = held_grants(credential, grantee)
        granted = _ordered(asked - set(held))
        moved = _ordered({action for action in asked & set(held) if held[action] != expires_at})
        for action in (*granted, *moved):
            set_grant(credential, grantee, action, expires_at)
        now = {**held, **{action: expires_at for action in asked}}
        common = {**grantee_details(grantee), "now": list(_ordered(set(now))), "expires_at": _iso(expires_at)}
        if granted:
            audit_record(
                action=AuditAction.SHARED, actor=actor, credential=credential, ip=ip,
                details={**common, "granted": list(granted)},
            )  # fmt: skip
            raise_event(
                events.shared, Credential, credential_id=credential.pk, **_grantee_facts(grantee),
                permissions=list(granted), expires_at=expires_at, actor_id=actor.pk,
            )  # fmt: skip
        if moved:
            ends_were = {action: _iso(held[action]) for action in moved}
            audit_record(
                action=AuditAction.SHARE_CHANGED, actor=actor, credential=credential, ip=ip,
                details={**common, "changed": list(moved), "ended_at_before": ends_were},
            )  # fmt: skip
    return _share("user" if user is not None else "group", grantee.pk, str(grantee), now)


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
    with transaction.atomic():
        credential, grantee, asked = _locked_for_sharing(actor, credential_id, user, group, permissions, False)
        held = held_grants(credential, grantee)
        revoked = _ordered(asked & set(held))
        _drop_grants(credential, grantee, asked)  # ended rows too: nothing to sweep later
        now = {action: end for action, end in held.items() if action not in asked}
        if revoked:
            audit_record(
                action=AuditAction.UNSHARED,
                actor=actor,
                credential=credential,
                ip=ip,
                details={**grantee_details(grantee), "revoked": list(revoked), "now": list(_ordered(set(now)))},
            )
            raise_event(
                events.unshared, Credential, credential_id=credential.pk, **_grantee_facts(grantee),
                permissions=list(revoked), actor_id=actor.pk,
            )  # fmt: skip
    return _share("user" if user is not None else "group", grantee.pk, str(grantee), now)


def _grantee_facts(grantee: Actor | Group) -> dict[str, Any]:
    return {"grantee": "group" if isinstance(grantee, Group) else "user", "grantee_id": grantee.pk}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _locked_for_sharing(
    actor: Actor,
    credential_id: uuid.UUID | str,
    user: Actor | None,
    group: Group | None,
    permissions: Sequence[str] | None,
    grant: bool,
) -> tuple[Credential, Actor | Group, set[str]]:
    """The credential locked for a change of its shares by ``actor``, the one grantee, and the permissions asked."""
    credential = lock_credential_for(actor, credential_id, SHARE)
    errors = _check_grantee(credential, user, group)
    asked = set(_check_permissions(permissions, errors, required=grant))
    grantee = user if user is not None else group
    if errors or grantee is None:  # no grantee is among the errors
        raise InvalidCredential(errors)
    return credential, grantee, asked
