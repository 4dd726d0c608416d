"""Checks of a credential's clear attributes and destinations, shared by create and update."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models.functions import Lower
from django.utils import timezone

from config.actors import Actor
from credentials import types
from credentials.errors import InvalidCredential
from credentials.models import Credential, CredentialType
from credentials.type_cache import type_by_slug
from credentials.types.hosts import normalise_host
from credentials.types.schema import is_encodable

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
NAME_TAKEN = "An active credential with this name already exists in this environment."
_ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def resolve_type(type_slug: Any) -> CredentialType:
    row = type_by_slug(str(type_slug)) if type_slug else None
    if row is None or not row.is_active:
        raise InvalidCredential({"type": [f"Unknown credential type '{str(type_slug)[:64]}'."]})
    return row


def check_attributes(values: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    """Validate the clear attributes present in ``values`` (all of them on create)."""
    _check_shapes(values, errors)
    for key in ("name", "description", "tags"):
        if key not in errors and has_unstorable(values.get(key)):
            errors[key] = ["Remove the null character or invalid character (a lone surrogate)."]


def has_unstorable(value: Any) -> bool:
    # PostgreSQL cannot store a NUL, nor text that is not UTF-8: refuse it as bad input, not as a
    # database error.
    items = value if isinstance(value, list | tuple) else [value]
    return any(isinstance(item, str) and ("\x00" in item or not is_encodable(item)) for item in items)


def _check_shapes(values: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    if "name" in values:
        name = values["name"]
        if not isinstance(name, str) or not name.strip():
            errors["name"] = ["Enter a name."]
        elif len(name) > 200:
            errors["name"] = ["Ensure the name has at most 200 characters."]
    if "environment" in values:
        environment = values["environment"]
        if not isinstance(environment, str) or not _ENVIRONMENT.match(environment):
            errors["environment"] = ["Use lower-case letters, digits, '-' and '_' (at most 64)."]
    if "description" in values:
        description = values["description"]
        if not isinstance(description, str) or len(description) > 10_000:
            errors["description"] = ["Enter text of at most 10,000 characters."]
    if "tags" in values:
        tags = values["tags"]
        if (
            not isinstance(tags, list | tuple)
            or len(tags) > MAX_TAGS
            or not all(isinstance(t, str) and 0 < len(t.strip()) <= MAX_TAG_LENGTH for t in tags)
        ):
            errors["tags"] = [f"Give at most {MAX_TAGS} tags of 1 to {MAX_TAG_LENGTH} characters each."]
    if "expires_at" in values:
        expires_at = values["expires_at"]
        if expires_at is not None and (not isinstance(expires_at, datetime) or timezone.is_naive(expires_at)):
            errors["expires_at"] = ["Enter a date and time with a time zone."]
    if "is_active" in values and not isinstance(values["is_active"], bool):
        errors["is_active"] = ["Enter true or false."]
    if "keep_versions" in values:
        keep, ceiling = values["keep_versions"], settings.CREDENTIAL_MAX_VERSIONS
        if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or not 1 <= keep <= ceiling):
            errors["keep_versions"] = [f"Enter a whole number from 1 to {ceiling} (CREDENTIAL_MAX_VERSIONS), or null."]


def clean_hosts(raw: Any, errors: dict[str, list[str]]) -> list[str] | None:
    if not isinstance(raw, list | tuple) or len(raw) > 50:
        errors["allowed_hosts"] = ["Give a list of at most 50 host names."]
        return None
    hosts: list[str] = []
    problems = []
    for item in raw:
        try:
            host = normalise_host(item if isinstance(item, str) else "")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if host not in hosts:
            hosts.append(host)
    if problems:
        errors["allowed_hosts"] = problems
        return None
    return hosts


def check_destinations(
    spec: types.CredentialType, values: Mapping[str, Any], hosts: list[str], errors: dict[str, list[str]]
) -> None:
    missing = [h for h in spec.destination_hosts(values) if h not in hosts]
    if missing:
        errors.setdefault("allowed_hosts", []).append(
            f"The credential's own settings send it to {', '.join(missing)}: allow these hosts too."
        )


def clean_fields(
    spec: types.CredentialType, values: Any
) -> tuple[dict[str, Any] | None, dict[str, Any], dict[str, list[str]]]:
    """The cleaned values and their clear facts, or the problems by field."""
    try:
        cleaned, metadata = spec.clean_with_metadata(values)
    except types.SchemaErrors as exc:
        return None, {}, exc.errors
    return cleaned, metadata, {}


def check_secret_lengths(
    spec: types.CredentialType, values: Mapping[str, Any], entered: set[str], field_errors: dict[str, list[str]]
) -> None:
    """Refuse a secret entered anew that is too short to be redacted (ARCHITECTURE.md, invariant 8).

    Masking a short value destroys the text around it (a secret "t" masks every letter t), and
    whoever may plant text that a test echoes could learn it from what gets masked. Stored
    secrets are not judged again, so a lowered minimum never locks a credential.
    """
    minimum = settings.CREDENTIAL_SECRET_MIN_LENGTH
    for name in sorted(entered):
        value = values.get(name)
        if name in field_errors or not isinstance(value, str) or not value or len(value) >= minimum:
            continue
        field_errors[name] = [
            f"Enter at least {minimum} characters: a shorter secret cannot be hidden reliably from the "
            f"messages it might appear in (it has {len(value)})."
        ]


def check_team(actor: Actor, team: Group | None, errors: dict[str, list[str]]) -> None:
    """A credential may go to a team its creator belongs to or manages (any team, for a superuser)."""
    from credentials.permissions import user_in_team, user_manages_team

    if team is None or actor.is_superuser:
        return
    if not (user_in_team(actor, team) or user_manages_team(actor, team)):
        errors["team"] = ["You can only give a credential to a team you belong to."]


def name_taken(
    *, name: str, environment: str, owner: Actor, team: Group | None, exclude: uuid.UUID | None = None
) -> bool:
    queryset = Credential.objects.annotate(lower_name=Lower("name")).filter(
        lower_name=name.lower(), environment=environment, is_active=True
    )
    queryset = queryset.filter(team=team) if team is not None else queryset.filter(owner=owner, team__isnull=True)
    if exclude is not None:
        queryset = queryset.exclude(pk=exclude)
    return queryset.exists()
