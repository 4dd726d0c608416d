"""Writes to credentials, each audited in its own transaction; the one door is in door.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.models import AuditAction
from audit.services import audit_record, audit_record_insert
from config.actors import Actor
from config.events import raise_event
from credentials import events, types
from credentials.door import RevealedSecret, credential_reveal
from credentials.errors import CredentialInUse, CredentialPermissionDenied, InvalidCredential, StaleVersion
from credentials.keys.ring import DecryptionError
from credentials.keys.sealing import open_values, seal_values, sealed_secret_names
from credentials.locking import lock_credential_for
from credentials.models import Credential, CredentialType, CredentialVersion, VersionOrigin
from credentials.permissions import CHANGE, DELETE, SHARE, user_can
from credentials.type_cache import clear_type_cache
from credentials.validation import (
    NAME_TAKEN,
    check_attributes,
    check_destinations,
    check_secret_lengths,
    check_team,
    clean_fields,
    clean_hosts,
    name_taken,
    resolve_type,
)
from credentials.versions.recording import version_of_seal, versions_prune

# The one door is part of this layer's interface (ARCHITECTURE.md, "Layers").
__all__ = [
    "SECRET_PLACEHOLDER",
    "RevealedSecret",
    "credential_create",
    "credential_deactivate",
    "credential_delete",
    "credential_reveal",
    "credential_types_sync",
    "credential_update",
]

# What a form or client sends back for a stored secret it was not shown: keep the value.
SECRET_PLACEHOLDER = "********"  # noqa: S105  (a marker, not a password)

_UPDATABLE = {
    "name", "fields", "environment", "description", "tags", "expires_at", "is_active", "allowed_hosts", "team",
    "retest_daily", "keep_versions",
}  # fmt: skip


# The attributes an update sets as they come (validated by check_attributes), never sealed.
_CLEAR_ATTRIBUTES = (
    "name", "environment", "description", "tags", "expires_at", "is_active", "retest_daily", "keep_versions",
)  # fmt: skip


# --- Create, update, deactivate, delete ------------------------------------------------------


@sensitive_variables("fields", "cleaned")
def credential_create(
    *,
    actor: Actor,
    type_slug: str,
    name: str,
    fields: Mapping[str, object],
    environment: str = "production",
    description: str = "",
    tags: Sequence[str] = (),
    expires_at: datetime | None = None,
    allowed_hosts: Sequence[str] | None = None,
    team: Group | None = None,
    retest_daily: bool = False,
    keep_versions: int | None = None,
    ip: str | None = None,
) -> Credential:
    """Validate with the type's schema, encrypt, store and audit, in one transaction.

    Its payload is kept as version 1 of its secret (credentials.versions); ``keep_versions`` lowers how
    many versions it keeps below CREDENTIAL_MAX_VERSIONS.
    """
    type_row = resolve_type(type_slug)
    spec = type_row.spec
    errors: dict[str, list[str]] = {}
    attributes = {
        "name": name,
        "environment": environment,
        "description": description,
        "tags": list(tags) if isinstance(tags, list | tuple) else tags,
        "expires_at": expires_at,
        "keep_versions": keep_versions,
    }
    check_attributes(attributes, errors)
    if expires_at is not None and "expires_at" not in errors and expires_at <= timezone.now():
        errors["expires_at"] = ["Enter a time in the future."]
    check_team(actor, team, errors)
    cleaned, metadata, field_errors = clean_fields(spec, fields)
    if isinstance(fields, Mapping):
        check_secret_lengths(spec, fields, set(spec.secret_field_names), field_errors)
    hosts: list[str] | None = None
    if cleaned is not None:
        hosts = clean_hosts(allowed_hosts, errors) if allowed_hosts is not None else spec.default_allowed_hosts(cleaned)
        if hosts is not None:
            check_destinations(spec, cleaned, hosts, errors)
    # A taken name is left to the unique constraints (below): a pre-check would cost every
    # create a query, for a mistake that is rare and is still reported on the name.
    if errors or field_errors or cleaned is None:  # no cleaned values without field errors
        raise InvalidCredential(errors, field_errors)

    now = timezone.now()
    credential = Credential(
        id=uuid.uuid4(),
        name=name.strip(),
        type=type_row,
        environment=environment,
        owner=actor,
        team=team,
        description=description,
        tags=[t.strip() for t in tags],
        expires_at=expires_at,
        allowed_hosts=hosts,
        retest_daily=bool(retest_daily),
        keep_versions=keep_versions,
        created_by=actor,
        updated_by=actor,
        created_at=now,
        updated_at=now,
    )
    seal_values(credential, spec, cleaned, metadata)
    version = version_of_seal(
        credential, actor=actor, origin=VersionOrigin.CREATED, changed_fields=[*cleaned, "allowed_hosts"]
    )
    try:
        # The row, its first version and their event commit together, or not at all (a savepoint
        # inside a caller's transaction).
        audit_record_insert(
            credential,
            version,
            action=AuditAction.CREATED,
            uid=version.event_id,
            actor=actor,
            credential=credential,
            ip=ip,
            fields=cleaned,
            details={
                "type": spec.slug,
                "environment": environment,
                "allowed_hosts": hosts,
                "secrets_set": credential.secrets_set,
                "retest_daily": credential.retest_daily,
                "keep_versions": keep_versions,
            },
        )
    except IntegrityError as exc:
        if _is_name_conflict(exc):
            raise InvalidCredential({"name": [NAME_TAKEN]}) from None
        raise
    return credential


def _is_name_conflict(exc: IntegrityError) -> bool:
    # PostgreSQL and SQLite both name the violated constraint in the message.
    return any(constraint.name in str(exc) for constraint in Credential._meta.constraints)


def _keeps_stored(value: Any) -> bool:
    return value is None or value == "" or value == SECRET_PLACEHOLDER


@sensitive_variables("changes")
def credential_update(
    *,
    actor: Actor,
    credential_id: uuid.UUID | str,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
    ip: str | None = None,
) -> Credential:
    """Apply a partial change. A secret omitted (or sent as the placeholder) keeps its stored value.

    Changing where or how the secret may go (``allowed_hosts``, or a route field such as
    ``base_url``, a port or a TLS mode) requires every stored secret to be entered again, so that
    whoever may change a credential cannot redirect or downgrade it and capture it.
    """
    errors = _input_errors(changes)
    with transaction.atomic():
        credential = lock_credential_for(actor, credential_id, CHANGE)
        if expected_version is not None and credential.version != expected_version:
            raise StaleVersion(expected=expected_version, current=credential.version)
        old_hosts = list(credential.allowed_hosts)
        diff = _apply_attributes(credential, changes, errors)
        if "keep_versions" in diff and not user_can(actor, DELETE, credential):
            # Keeping fewer versions deletes the oldest: destroying history is the owner's or an admin's.
            raise CredentialPermissionDenied(
                "Only the owner or an administrator may change how many versions are kept."
            )
        if "team" in changes:
            moved, team_errors = _move_team(actor, credential, changes["team"])
            diff.update(moved)
            _add_errors(errors, team_errors)
        hosts, host_errors = _requested_hosts(credential, changes)
        _add_errors(errors, host_errors)
        sealed = _reseal(credential, changes, hosts, fields_valid="fields" in changes and "fields" not in errors)
        _add_errors(errors, sealed.errors)
        if sealed.field_diff:
            diff["fields"] = sealed.field_diff
        if sealed.hosts != old_hosts:
            diff["allowed_hosts"] = {"old": old_hosts, "new": sealed.hosts}
        if not errors and _takes_a_taken_name(credential, diff):
            errors["name"] = [NAME_TAKEN]
        if errors or sealed.field_errors:
            raise InvalidCredential(errors, sealed.field_errors)
        if not diff:
            return credential
        version = _save_change(actor, credential, sealed, changed=diff)
        details = {"changes": diff, "version": credential.version}
        if version is not None:  # a new payload: its version row is written with the event
            details["secret_version"] = version.number
        if version is not None or "keep_versions" in diff:
            details["versions_pruned"] = versions_prune(credential)
        audit_record_insert(
            *([version] if version is not None else []),
            action=AuditAction.UPDATED,
            uid=version.event_id if version is not None else None,
            actor=actor,
            credential=credential,
            ip=ip,
            fields=diff.get("fields", {}),
            details=details,
        )
        if version is not None:
            raise_event(
                events.secret_changed, Credential, credential_id=credential.pk, version=version.number,
                changed_fields=list(version.changed_fields), actor_id=actor.pk,
            )  # fmt: skip
    return credential


def _input_errors(changes: Mapping[str, Any]) -> dict[str, list[str]]:
    """Problems with the change's shape, found before any row is read; an attribute that cannot change is refused."""
    unknown = sorted(set(changes) - _UPDATABLE)
    if unknown:
        raise InvalidCredential({key: ["This attribute cannot be changed here."] for key in unknown})
    errors: dict[str, list[str]] = {}
    check_attributes(changes, errors)
    if "fields" in changes and not isinstance(changes["fields"], Mapping):
        errors["fields"] = ["Expected an object mapping field names to values."]
    if "retest_daily" in changes and not isinstance(changes["retest_daily"], bool):
        errors["retest_daily"] = ["Enter true or false."]
    return errors


def _add_errors(errors: dict[str, list[str]], more: Mapping[str, list[str]]) -> None:
    for key, messages_ in more.items():
        errors.setdefault(key, []).extend(messages_)


def _requested_hosts(credential: Credential, changes: Mapping[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """The allowed hosts the change asks for (the stored ones when it asks for none, or for bad ones)."""
    errors: dict[str, list[str]] = {}
    if "allowed_hosts" not in changes:
        return list(credential.allowed_hosts), errors
    cleaned = clean_hosts(changes["allowed_hosts"], errors)
    return (cleaned if cleaned is not None else list(credential.allowed_hosts)), errors


@dataclass
class _Resealed:
    """What a change does to the sealed payload: the values to seal (None: keep it), and what it found wrong."""

    hosts: list[str]
    cleaned: dict[str, Any] | None = None
    metadata: dict[str, Any] = dataclass_field(default_factory=dict)
    field_diff: dict[str, Any] = dataclass_field(default_factory=dict)
    errors: dict[str, list[str]] = dataclass_field(default_factory=dict)
    field_errors: dict[str, list[str]] = dataclass_field(default_factory=dict)


@sensitive_variables("changes", "submitted", "stored", "merged", "sealed")
def _reseal(credential: Credential, changes: Mapping[str, Any], hosts: list[str], *, fields_valid: bool) -> _Resealed:
    """The payload after the change: fields merged over the stored ones, checked, and where they may go."""
    result = _Resealed(hosts=hosts)
    hosts_changed = hosts != list(credential.allowed_hosts)
    if not (fields_valid or hosts_changed):
        return result
    spec = credential.type.spec
    submitted = changes["fields"] if fields_valid else {}
    unreadable = ""
    try:
        sealed = open_values(credential)
    except DecryptionError as exc:
        # Nothing stored can be kept: a credential whose key is lost is repaired by
        # entering every field again, which seals it under the current key.
        sealed, unreadable = {"fields": {}}, f"{exc} Enter every field again to replace it."
    stored = sealed["fields"]
    stored_secrets = sealed_secret_names(sealed, spec)
    merged, entered = _merge_submitted(spec, stored, submitted, stored_secrets)
    cleaned, result.metadata, result.field_errors = clean_fields(spec, merged)
    check_secret_lengths(spec, merged, entered, result.field_errors)
    if cleaned is None:
        if unreadable:
            result.errors["__all__"] = [unreadable]
        return result
    result.cleaned = cleaned
    destination_moved = any(stored.get(n) != cleaned.get(n) for n in spec.destination_fields)
    route_changed = any(stored.get(n) != cleaned.get(n) for n in spec.route_fields)
    if destination_moved and "allowed_hosts" not in changes:
        result.hosts = spec.default_allowed_hosts(cleaned)
        hosts_changed = result.hosts != list(credential.allowed_hosts)
    if route_changed or hosts_changed:
        _require_secrets_again(spec, cleaned, entered, result.field_errors, result.errors, route_changed)
    check_destinations(spec, cleaned, result.hosts, result.errors)
    result.field_diff = _field_diff(stored_secrets, stored, cleaned)
    return result


def _takes_a_taken_name(credential: Credential, diff: Mapping[str, Any]) -> bool:
    """Whether the change gives an active credential the name of another in the same place."""
    renamed = {"name", "environment", "team"} & set(diff) or diff.get("is_active", {}).get("new")
    return bool(
        renamed
        and credential.is_active
        and name_taken(
            name=credential.name,
            environment=credential.environment,
            owner=credential.owner,
            team=credential.team,
            exclude=credential.pk,
        )
    )


def _save_change(
    actor: Actor, credential: Credential, sealed: _Resealed, *, changed: Mapping[str, Any]
) -> CredentialVersion | None:
    """Seal what changed, count the version, and save; a name taken meanwhile is refused as bad input.

    A new payload is a new secret version: its (unsaved) row is returned, for the caller to write with
    the event; None when only clear attributes changed.
    """
    reseal = sealed.cleaned is not None and (bool(sealed.field_diff) or sealed.hosts != list(credential.allowed_hosts))
    credential.allowed_hosts = sealed.hosts  # before sealing: the hosts are sealed with the secret
    credential.version += 1
    credential.updated_by = actor
    credential.updated_at = timezone.now()
    version = None
    if reseal and sealed.cleaned is not None:  # the second is implied: for the type
        credential.secret_version += 1
        seal_values(credential, credential.type.spec, sealed.cleaned, sealed.metadata)
        changed_fields = [*changed.get("fields", {}), *(["allowed_hosts"] if "allowed_hosts" in changed else [])]
        version = version_of_seal(credential, actor=actor, origin=VersionOrigin.CHANGED, changed_fields=changed_fields)
    try:
        with transaction.atomic():
            credential.save()
    except IntegrityError as exc:
        # Another request took the name between our check and our save.
        if _is_name_conflict(exc):
            raise InvalidCredential({"name": [NAME_TAKEN]}) from None
        raise
    return version


def _apply_attributes(credential: Credential, changes: Mapping[str, Any], errors: Mapping[str, Any]) -> dict[str, Any]:
    """Set the valid clear attributes that differ; return their old and new values."""
    diff: dict[str, Any] = {}
    for attribute in _CLEAR_ATTRIBUTES:
        if attribute not in changes or attribute in errors:
            continue
        new = changes[attribute]
        new = new.strip() if attribute == "name" else new
        new = [t.strip() for t in new] if attribute == "tags" else new
        if new != getattr(credential, attribute):
            diff[attribute] = {"old": _jsonable(getattr(credential, attribute)), "new": _jsonable(new)}
            setattr(credential, attribute, new)
    return diff


def _move_team(actor: Actor, credential: Credential, team: Group | None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Move the credential to another team (or none): that changes who may use it, so it needs *share*."""
    errors: dict[str, list[str]] = {}
    if team == credential.team:
        return {}, errors
    if not user_can(actor, SHARE, credential):
        raise CredentialPermissionDenied("Only the owner or an administrator may move a credential to another team.")
    check_team(actor, team, errors)
    if errors:
        return {}, errors
    moved = {"team": {"old": getattr(credential.team, "name", None), "new": getattr(team, "name", None)}}
    credential.team = team
    return moved, errors


@sensitive_variables("stored", "submitted", "merged")
def _merge_submitted(
    spec: types.CredentialType, stored: Mapping[str, Any], submitted: Mapping[str, Any], stored_secrets: set[str]
) -> tuple[dict[str, Any], set[str]]:
    """The stored values overlaid with the submitted ones, and the names of secrets entered anew.

    A secret sent blank or as the placeholder keeps its stored value; an explicit null
    clears an optional one (a required one then fails validation).
    """
    secret_names = set(spec.secret_field_names)
    entered = {n for n in secret_names if n in submitted and not _keeps_stored(submitted[n])}
    cleared = {n for n in secret_names if n in submitted and submitted[n] is None}
    # A field the type no longer has (a custom type's schema changed) is dropped, not kept; so is
    # a value sealed as a secret that the type now calls plain (its schema was written around
    # CredentialType.save): it would be copied into the clear columns.
    current = {f.name for f in spec.fields}
    exposed = stored_secrets - secret_names
    merged = {k: v for k, v in stored.items() if k in current and k not in cleared and k not in exposed}
    merged.update({k: v for k, v in submitted.items() if k not in secret_names or k in entered})
    return merged, entered


def _require_secrets_again(
    spec: types.CredentialType,
    cleaned: Mapping[str, Any],
    entered: set[str],
    field_errors: dict[str, list[str]],
    errors: dict[str, list[str]],
    route_changed: bool,
) -> None:
    missing = [name for name in spec.secret_field_names if name in cleaned and name not in entered]
    if not missing:
        return
    message = "Enter this secret again: changing where or how a credential is sent requires it."
    for name in missing:
        field_errors.setdefault(name, []).append(message)
    if not route_changed:
        errors.setdefault("allowed_hosts", []).append("Changing the allowed hosts requires entering the secrets again.")


def _field_diff(secret_names: set[str], old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Old and new values of changed non-secret fields; only "changed" for secrets (as sealed, or as now)."""
    diff: dict[str, Any] = {}
    for name in sorted(set(old) | set(new)):
        if old.get(name) == new.get(name):
            continue
        diff[name] = "changed" if name in secret_names else {"old": old.get(name), "new": new.get(name)}
    return diff


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def credential_deactivate(*, actor: Actor, credential_id: uuid.UUID | str, ip: str | None = None) -> Credential:
    """Switch a credential off: the one door refuses it from then on. Its history stays."""
    with transaction.atomic():
        credential = lock_credential_for(actor, credential_id, CHANGE)
        if not credential.is_active:
            return credential
        credential.is_active = False
        credential.version += 1
        credential.updated_by = actor
        credential.updated_at = timezone.now()
        credential.save(update_fields=["is_active", "version", "updated_by", "updated_at"])
        audit_record(action=AuditAction.DEACTIVATED, actor=actor, credential=credential, ip=ip)
    return credential


def credential_delete(*, actor: Actor, credential_id: uuid.UUID | str, ip: str | None = None) -> None:
    """Audit first, overwrite the ciphertext, then remove the row; the audit trail keeps its name.

    A credential something still uses (a plugin's foreign key protects it) is not deleted:
    CredentialInUse names what uses it, and nothing is written.
    """
    try:
        _delete(actor=actor, credential_id=credential_id, ip=ip)
    except ProtectedError as exc:
        users = [
            {"kind": str(user._meta.verbose_name), "id": str(user.pk), "name": str(user)}
            for user in sorted(exc.protected_objects, key=str)
        ]
        raise CredentialInUse(users) from None


def _delete(*, actor: Actor, credential_id: uuid.UUID | str, ip: str | None) -> None:
    with transaction.atomic():
        credential = lock_credential_for(actor, credential_id, DELETE)
        audit_record(
            action=AuditAction.DELETED,
            actor=actor,
            credential=credential,
            ip=ip,
            details={"type": credential.type.slug, "environment": credential.environment},
        )
        # The row's last version holds no secret, should anything keep a copy of it.
        Credential.objects.filter(pk=credential.pk).update(ciphertext="", key_id="")
        credential.delete()


# --- Credential types -------------------------------------------------------------------------


def credential_types_sync(*, registered: Iterable[types.CredentialType] | None = None) -> None:
    """Mirror the registry into the table; a system type no longer registered is switched off."""
    registered = list(registered if registered is not None else types.system_types())
    slugs = set()
    with transaction.atomic():
        for spec in registered:
            slugs.add(spec.slug)
            try:
                CredentialType.objects.update_or_create(
                    slug=spec.slug,
                    defaults={
                        "name": spec.name,
                        "category": spec.category,
                        "icon": spec.icon,
                        "description": spec.description,
                        "schema": [f.as_dict() for f in spec.fields],
                        "is_system": True,
                        "is_active": True,
                    },
                )
            except types.SchemaErrors as exc:
                # The code made plain a field that was secret (CredentialType.save): stored values
                # would be shown. Stop here, loudly, rather than start with the change.
                raise ImproperlyConfigured(f"Credential type '{spec.slug}': {exc}") from None
        CredentialType.objects.filter(is_system=True).exclude(slug__in=slugs).update(is_active=False)
    clear_type_cache()
