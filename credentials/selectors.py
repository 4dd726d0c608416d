"""Reads of credentials that depend on who asks; none of them loads or decrypts a secret."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Count, ExpressionWrapper, Max, Q, QuerySet
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from config.actors import Caller
from credentials import attention
from credentials.errors import CredentialNotFound, CredentialPermissionDenied
from credentials.models import Credential, CredentialType
from credentials.page_rows import rows_with_flags
from credentials.permissions import (
    SHARE,
    VIEW,
    actions_for,
    grant_annotations,
    is_active_user,
    sees_all_credentials,
    user_can_see,
    visible_ids,
)
from credentials.sharing import Share, share_list
from credentials.usage import usage_of


def _base() -> QuerySet[Credential]:
    return Credential.objects.select_related("type", "owner", "team").defer("ciphertext")


def credential_list_for_user(
    user: Caller,
    *,
    type_slug: str | None = None,
    environment: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    expiring_within: timedelta | None = None,
    with_grants: bool = True,
) -> QuerySet[Credential]:
    """The credentials ``user`` may see, optionally filtered, in one query; the ciphertext is never loaded.

    Each row carries the share and team flags that ``permissions.actions_for`` reads, so that
    saying what the caller may do with every row costs no further query; ``with_grants=False``
    leaves them out, for a query that only finds and orders the rows (a page's ids).
    """
    if not is_active_user(user):
        return Credential.objects.none()
    queryset = _base().annotate(**grant_annotations(user)) if with_grants else _base()
    if not sees_all_credentials(user):
        queryset = queryset.filter(pk__in=visible_ids(user))
    if type_slug:
        queryset = queryset.filter(type__slug=type_slug)
    if environment:
        queryset = queryset.filter(environment=environment)
    if tag:
        if connection.features.supports_json_field_contains:
            queryset = queryset.filter(tags__contains=[tag])
        else:  # SQLite, in development: match the tag as a quoted JSON string.
            queryset = queryset.filter(tags__icontains=f'"{tag}"')
    if search:
        queryset = queryset.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if expiring_within is not None:
        now = timezone.now()
        queryset = queryset.filter(expires_at__gt=now, expires_at__lte=now + expiring_within)
    return queryset


def credential_rows_for_user(user: Caller, *, ids: Sequence[uuid.UUID], columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of ``ids``, which ``credential_list_for_user`` found for ``user``, in that order, with their flags.

    A page is found in two steps so that the share and team flags, and the joins, are worked out
    for the page's rows only, not for every row the caller may see (a page of 100 of 1,000 visible:
    11 ms of database time in one query, about 6 in these two, measured with `make bench`'s list).
    The ids were visible a moment before; a share taken back in between removes nothing from
    what an earlier request would have shown, and the flags here are today's.
    """
    # Unordered (the ids give the order), and written once per process rather than by the ORM each time.
    rows = rows_with_flags(user, ids=ids, columns=columns)
    by_id = {row["id"]: row for row in rows}
    return [by_id[pk] for pk in ids if pk in by_id]


# Each row of credentials_needing_attention_for_user carries one boolean per section under these
# names (is the row in it?) and ``last_used_at``.
ATTENTION_FLAGS = {section: f"attention_{section}" for section in attention.SECTIONS}


@dataclass(frozen=True)
class VersionFacts:
    """One kept version of a credential's secret as the faces show it: who, when, what changed; no value."""

    number: int
    is_current: bool
    origin: str
    restored_from: int | None
    changed_fields: tuple[str, ...]
    key_id: str
    created_at: datetime
    created_by: str
    event_uid: uuid.UUID | None
    destroyed_at: datetime | None
    destroyed_by: str

    @property
    def is_destroyed(self) -> bool:
        return self.destroyed_at is not None


@dataclass(frozen=True)
class CredentialsNeedingAttention:
    counts: dict[str, int]  # per section, in attention.SECTIONS order
    rows: QuerySet[Credential]  # the chosen section's rows (or all that need attention), sorted; not yet run


def credentials_needing_attention_for_user(
    user: Caller,
    *,
    days: int,
    unused_days: int,
    section: str | None = None,
    order: str | None = None,
    now: datetime | None = None,
) -> CredentialsNeedingAttention:
    """Of the active credentials ``user`` may see: how many are in each section, in one query, and the rows.

    ``days`` is the "expiring" window and ``unused_days`` the "unused" one, each 1 to
    attention.MAX_DAYS (the faces refuse others with a field message; here they are a ValueError).
    The rows are those of ``section``, or of any section when it is None, in ``order`` (a key of
    attention.ORDERINGS; the section's own order when None), each with the flags of ATTENTION_FLAGS,
    ``last_used_at`` and the share flags that ``permissions.actions_for`` reads. A face pages them.
    """
    for name, value in (("days", days), ("unused_days", unused_days)):
        if not 1 <= value <= attention.MAX_DAYS:
            raise ValueError(f"{name} must be between 1 and {attention.MAX_DAYS}, not {value}.")
    if section is not None and section not in attention.SECTIONS:
        raise ValueError(f"unknown section {section!r}")
    order = order or attention.default_order(section)
    if order not in attention.ORDERINGS:
        raise ValueError(f"unknown order {order!r}")
    conditions = attention.section_conditions(now=now or timezone.now(), days=days, unused_days=unused_days)
    # Permission logic stays in credential_list_for_user; the counts are one conditional aggregation.
    visible = credential_list_for_user(user, with_grants=False).filter(is_active=True)
    totals = visible.aggregate(**{name: Count("pk", filter=condition) for name, condition in conditions.items()})
    wanted = conditions[section] if section else reduce(operator.or_, conditions.values())
    flags = {
        ATTENTION_FLAGS[name]: ExpressionWrapper(condition, output_field=BooleanField())
        for name, condition in conditions.items()
    }
    rows = (
        credential_list_for_user(user)
        .filter(is_active=True)
        .filter(wanted)
        .annotate(last_used_at=attention.last_used_at(), **flags)
        .order_by(*attention.ORDERINGS[order])
    )
    return CredentialsNeedingAttention(counts={name: totals[name] or 0 for name in attention.SECTIONS}, rows=rows)


def credential_get_for_user(user: Caller, *, credential_id: uuid.UUID | str) -> Credential:
    """One credential ``user`` may see; CredentialNotFound whether it is missing or hidden."""
    if not is_active_user(user):
        raise CredentialNotFound()
    try:
        credential = _base().annotate(**grant_annotations(user)).get(pk=uuid.UUID(str(credential_id)))
    except (ValueError, Credential.DoesNotExist):
        raise CredentialNotFound() from None
    if not user_can_see(user, credential):
        raise CredentialNotFound()
    return credential


def credential_get_by_name_for_user(user: Caller, *, name: str, environment: str = "production") -> Credential:
    """The active credential called ``name`` in ``environment`` that ``user`` may see."""
    candidates = credential_list_for_user(user, environment=environment).filter(name__iexact=name, is_active=True)
    # Prefer the caller's own credential when a visible team credential shares its name.
    match = sorted(candidates, key=lambda c: c.owner_id != getattr(user, "pk", None))
    if not match:
        raise CredentialNotFound()
    return match[0]


def require_view(user: Caller, credential: Credential, what: str) -> None:
    allowed = actions_for(user, credential)
    if VIEW not in allowed and SHARE not in allowed:
        raise CredentialPermissionDenied(f"You may not view this credential's {what}.")


# The three below take the credential as credential_get_for_user returned it (the faces look it
# up once per request), so that its annotations answer the permission check without a query.


def credential_audit_events_for_user(user: Caller, *, credential: Credential) -> QuerySet[AuditEvent]:
    """A credential's audit trail, newest first, for a caller who may view the credential."""
    require_view(user, credential, "audit log")
    return AuditEvent.objects.filter(credential_ref=str(credential.pk)).order_by("-id")


def credential_usage_for_user(user: Caller, *, credential: Credential) -> dict[str, Any]:
    """When the credential's secret was last handed out and to which services (from the audit trail), and
    what uses it (``plugins``, each with when it last used the credential), from the apps that report it.
    """
    require_view(user, credential, "usage")
    uses = (
        AuditEvent.objects.filter(credential_ref=str(credential.pk), action=AuditAction.ACCESSED)
        .values("service")
        .annotate(uses=Count("id"), last_used_at=Max("created_at"))
        .order_by("-last_used_at")
    )
    by_service = list(uses)
    return {
        "last_used_at": by_service[0]["last_used_at"] if by_service else None,
        "by_service": by_service,
        **usage_of(credential, user),
    }


def credential_shares_for_user(user: Caller, *, credential: Credential) -> list[Share]:
    """Who the credential is shared with, for a caller who may view or share it."""
    require_view(user, credential, "shares")
    return share_list(credential)


def credential_type_list(*, include_inactive: bool = False) -> QuerySet[CredentialType]:
    queryset = CredentialType.objects.all()
    return queryset if include_inactive else queryset.filter(is_active=True)


CATEGORY_LABELS = {"git": "Git", "database": "Databases", "api": "HTTP APIs", "other": "Other"}


def credential_types_by_category() -> list[tuple[str, list[CredentialType]]]:
    """The active types grouped under their category's label, for a "choose a type" page."""
    groups: dict[str, list[CredentialType]] = {}
    for credential_type in credential_type_list():
        category = credential_type.category
        label = CATEGORY_LABELS.get(category, category.replace("_", " ").capitalize())
        groups.setdefault(label, []).append(credential_type)
    return list(groups.items())


def credential_versions_for_user(user: Caller, *, credential: Credential) -> list[VersionFacts]:
    """The credential's kept versions, newest first, for a caller who may view it: facts only, never a value.

    One query (users' names joined); the ciphertext is not even read.
    """
    require_view(user, credential, "history")
    rows = credential.versions.order_by("-number").values(
        "number",
        "origin",
        "restored_from",
        "changed_fields",
        "key_id",
        "created_at",
        "created_by__username",
        "event__uid",
        "destroyed_at",
        "destroyed_by__username",
    )
    return [
        VersionFacts(
            number=row["number"],
            is_current=row["number"] == credential.secret_version,
            origin=row["origin"],
            restored_from=row["restored_from"],
            changed_fields=tuple(row["changed_fields"]),
            key_id=row["key_id"],
            created_at=row["created_at"],
            created_by=row["created_by__username"] or "",
            event_uid=row["event__uid"],
            destroyed_at=row["destroyed_at"],
            destroyed_by=row["destroyed_by__username"] or "",
        )
        for row in rows
    ]
