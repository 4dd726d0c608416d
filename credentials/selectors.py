"""Reads of credentials that depend on who asks; none of them loads or decrypts a secret."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from credentials.errors import CredentialNotFound
from credentials.models import Credential, CredentialType
from credentials.permissions import sees_all_credentials, user_can_see


def _base() -> QuerySet[Credential]:
    return Credential.objects.select_related("type", "owner", "team").defer("ciphertext")


def credential_list_for_user(
    user: Any,
    *,
    type_slug: str | None = None,
    environment: str | None = None,
    tag: str | None = None,
    search: str | None = None,
) -> QuerySet[Credential]:
    """The credentials ``user`` may see, optionally filtered; the ciphertext is never loaded."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Credential.objects.none()
    queryset = _base()
    if not sees_all_credentials(user):
        queryset = queryset.filter(owner=user)
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
    return queryset


def credential_get_for_user(user: Any, credential_id: Any) -> Credential:
    """One credential ``user`` may see; CredentialNotFound whether it is missing or hidden."""
    try:
        credential = _base().get(pk=uuid.UUID(str(credential_id)))
    except (ValueError, Credential.DoesNotExist):
        raise CredentialNotFound() from None
    if not user_can_see(user, credential):
        raise CredentialNotFound()
    return credential


def credential_get_by_name_for_user(user: Any, *, name: str, environment: str = "production") -> Credential:
    """The active credential called ``name`` in ``environment`` that ``user`` may see."""
    candidates = credential_list_for_user(user, environment=environment).filter(name__iexact=name, is_active=True)
    # Prefer the caller's own credential when a visible team credential shares its name.
    match = sorted(candidates, key=lambda c: c.owner_id != getattr(user, "pk", None))
    if not match:
        raise CredentialNotFound()
    return match[0]


def credential_type_list(*, include_inactive: bool = False) -> QuerySet[CredentialType]:
    queryset = CredentialType.objects.all()
    return queryset if include_inactive else queryset.filter(is_active=True)
