"""Writes to credentials, and the one door that reveals a secret; each audited in its transaction."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.models import AuditAction
from audit.services import audit_record
from credentials import types
from credentials.crypto import DecryptionError, get_keyring
from credentials.errors import (
    CredentialNotFound,
    CredentialPermissionDenied,
    CredentialUnavailable,
    DestinationRefused,
    InvalidCredential,
    StaleVersion,
)
from credentials.models import Credential, CredentialType
from credentials.permissions import CHANGE, DELETE, USE, user_can, user_can_see
from credentials.type_cache import clear_type_cache, type_by_pk, type_by_slug
from credentials.types.hosts import normalise_host

# What a form or client sends back for a stored secret it was not shown: keep the value.
SECRET_PLACEHOLDER = "********"  # noqa: S105  (a marker, not a password)

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
_ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_UPDATABLE = {"name", "fields", "environment", "description", "tags", "expires_at", "is_active", "allowed_hosts"}


# --- The one door -------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class RevealedSecret:
    """A credential's values in memory, for one operation. Its repr never shows them."""

    credential_id: uuid.UUID
    type_slug: str
    values: Mapping[str, Any]
    secret_names: tuple[str, ...]
    allowed_hosts: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        return f"<RevealedSecret {self.credential_id} fields={sorted(self.values)}>"

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    @property
    def secret_values(self) -> list[str]:
        """The plaintext secrets, for a redactor that must hide them from outside text."""
        return [self.values[n] for n in self.secret_names if isinstance(self.values.get(n), str)]

    def check_destination(self, host: str) -> None:
        """Refuse, before anything is sent, a host its owner did not allow."""
        try:
            wanted = normalise_host(host)
        except ValueError:
            raise DestinationRefused(f"'{host[:100]}' is not a host name.") from None
        if wanted not in self.allowed_hosts:
            raise DestinationRefused(
                f"This credential may only be sent to {', '.join(self.allowed_hosts) or 'no host'}; "
                f"'{wanted}' is not among them."
            )


# The door reads only what it needs (who owns it, whether it may be used, its type, the sealed
# payload) in one plain statement: it runs on every use, and the ORM's query building would
# cost it more than the database does.
_DOOR_SQL = (
    "SELECT id, name, owner_id, is_active, expires_at, ciphertext, key_id, type_id "
    "FROM credentials_credential WHERE id = %s"
)


def _door_row(credential_id: Any) -> Credential:
    try:
        # The key as this database stores it (SQLite keeps UUIDs as hex text).
        key = Credential._meta.pk.get_db_prep_value(uuid.UUID(str(credential_id)), connection)
        credential = next(iter(Credential.objects.raw(_DOOR_SQL, [key])))
    except (ValueError, StopIteration):
        raise CredentialNotFound() from None
    # The cached row, so that credential.type costs no query.
    credential.type = type_by_pk(credential.type_id)
    return credential


@sensitive_variables("data", "values")
def credential_reveal(
    *,
    actor: Any,
    credential_id: Any,
    service: str,
    fields: Sequence[str] | None = None,
    ip: str | None = None,
) -> RevealedSecret:
    """The only way plaintext leaves the store: checks use, activity and expiry; audits every outcome."""
    credential = _door_row(credential_id)

    # Each audit_record commits on its own (one statement on PostgreSQL): a denial is kept
    # even though the caller then sees an exception.
    def deny(reason: str) -> None:
        audit_record(
            action=AuditAction.ACCESS_DENIED,
            actor=actor,
            credential=credential,
            ip=ip,
            service=service,
            fields=fields or (),
            details={"reason": reason},
        )

    if not user_can(actor, USE, credential):
        deny("no use permission")
        if user_can_see(actor, credential):
            raise CredentialPermissionDenied("You may not use this credential.")
        raise CredentialNotFound()
    if not credential.is_active:
        deny("inactive")
        raise CredentialUnavailable("This credential is inactive.")
    if credential.is_expired:
        deny("expired")
        raise CredentialUnavailable(f"This credential expired at {credential.expires_at.isoformat()}.")

    spec = credential.type.spec
    known = {f.name for f in spec.fields}
    wanted = list(fields) if fields else sorted(known)
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise ValueError(f"{spec.slug} has no field(s) {', '.join(unknown)}")
    try:
        data = _open(credential)
    except DecryptionError as exc:
        audit_record(
            action=AuditAction.ACCESS_FAILED,
            actor=actor,
            credential=credential,
            ip=ip,
            service=service,
            fields=wanted,
            details={"reason": str(exc)},
        )
        raise
    # Audited before the plaintext is handed over: if the audit cannot be written, nothing is.
    audit_record(action=AuditAction.ACCESSED, actor=actor, credential=credential, ip=ip, service=service, fields=wanted)
    values = {name: data["fields"][name] for name in wanted if name in data["fields"]}
    return RevealedSecret(
        credential_id=credential.pk,
        type_slug=spec.slug,
        values=values,
        secret_names=tuple(n for n in spec.secret_field_names if n in values),
        # The authenticated copy, not the column: a row edited in the database cannot redirect it.
        allowed_hosts=tuple(data["allowed_hosts"]),
    )


def _open(credential: Credential) -> dict[str, Any]:
    return get_keyring().open(
        credential_id=credential.pk,
        type_slug=credential.type.slug,
        ciphertext=credential.ciphertext,
        key_id=credential.key_id,
    )


@sensitive_variables("values")
def _seal(credential: Credential, spec: types.CredentialType, values: Mapping[str, Any]) -> None:
    """Encrypt the values (and the hosts they may go to) into the row; refresh its clear copies."""
    sealed = get_keyring().seal(
        credential_id=credential.pk,
        type_slug=spec.slug,
        data={"fields": dict(values), "allowed_hosts": list(credential.allowed_hosts)},
    )
    credential.ciphertext = sealed.ciphertext
    credential.key_id = sealed.key_id
    secret_names = set(spec.secret_field_names)
    credential.public_fields = {k: v for k, v in values.items() if k not in secret_names}
    credential.secrets_set = sorted(k for k in values if k in secret_names)
    credential.metadata = spec.metadata(values)


# --- Validation shared by create and update -----------------------------------------------


def _resolve_type(type_slug: Any) -> CredentialType:
    row = type_by_slug(str(type_slug)) if type_slug else None
    if row is None or not row.is_active:
        raise InvalidCredential({"type": [f"Unknown credential type '{str(type_slug)[:64]}'."]})
    return row


def _check_attributes(values: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    """Validate the clear attributes present in ``values`` (all of them on create)."""
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


def _clean_hosts(raw: Any, errors: dict[str, list[str]]) -> list[str] | None:
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


def _check_destinations(
    spec: types.CredentialType, values: Mapping[str, Any], hosts: list[str], errors: dict[str, list[str]]
) -> None:
    missing = [h for h in spec.destination_hosts(values) if h not in hosts]
    if missing:
        errors.setdefault("allowed_hosts", []).append(
            f"The credential's own settings send it to {', '.join(missing)}: allow these hosts too."
        )


def _clean_fields(spec: types.CredentialType, values: Any) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    try:
        return spec.clean(values), {}
    except types.SchemaErrors as exc:
        return None, exc.errors


def _name_taken(*, name: str, environment: str, owner: Any, team: Any, exclude: Any = None) -> bool:
    queryset = Credential.objects.annotate(lower_name=Lower("name")).filter(
        lower_name=name.lower(), environment=environment, is_active=True
    )
    queryset = queryset.filter(team=team) if team is not None else queryset.filter(owner=owner, team__isnull=True)
    if exclude is not None:
        queryset = queryset.exclude(pk=exclude)
    return queryset.exists()


_NAME_TAKEN = "An active credential with this name already exists in this environment."


# --- Create, update, deactivate, delete ------------------------------------------------------


@sensitive_variables("fields", "cleaned")
def credential_create(
    *,
    actor: Any,
    type_slug: str,
    name: str,
    fields: Mapping[str, Any],
    environment: str = "production",
    description: str = "",
    tags: Sequence[str] = (),
    expires_at: datetime | None = None,
    allowed_hosts: Sequence[str] | None = None,
    team: Any = None,
    ip: str | None = None,
) -> Credential:
    """Validate with the type's schema, encrypt, store and audit, in one transaction."""
    type_row = _resolve_type(type_slug)
    spec = type_row.spec
    errors: dict[str, list[str]] = {}
    attributes = {
        "name": name,
        "environment": environment,
        "description": description,
        "tags": list(tags) if isinstance(tags, list | tuple) else tags,
        "expires_at": expires_at,
    }
    _check_attributes(attributes, errors)
    if expires_at is not None and "expires_at" not in errors and expires_at <= timezone.now():
        errors["expires_at"] = ["Enter a time in the future."]
    if team is not None and not (actor.is_superuser or actor.groups.filter(pk=team.pk).exists()):
        errors["team"] = ["You can only give a credential to a team you belong to."]
    cleaned, field_errors = _clean_fields(spec, fields)
    hosts: list[str] | None = None
    if cleaned is not None:
        hosts = (
            _clean_hosts(allowed_hosts, errors) if allowed_hosts is not None else spec.default_allowed_hosts(cleaned)
        )
        if hosts is not None:
            _check_destinations(spec, cleaned, hosts, errors)
    # A taken name is left to the unique constraints (below): a pre-check would cost every
    # create a query, for a mistake that is rare and is still reported on the name.
    if errors or field_errors:
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
        created_by=actor,
        updated_by=actor,
        created_at=now,
        updated_at=now,
    )
    _seal(credential, spec, cleaned)
    try:
        audit_record(
            action=AuditAction.CREATED,
            actor=actor,
            credential=credential,
            ip=ip,
            fields=cleaned,
            details={
                "type": spec.slug,
                "environment": environment,
                "allowed_hosts": hosts,
                "secrets_set": credential.secrets_set,
            },
            along_with=_insert_statement(credential),
        )
    except IntegrityError as exc:
        if _is_name_conflict(exc):
            raise InvalidCredential({"name": [_NAME_TAKEN]}) from None
        raise
    credential._state.adding = False
    credential._state.db = connection.alias
    return credential


def _insert_statement(credential: Credential) -> tuple[str, list[Any]]:
    """The row's INSERT, prepared as Model.save() would, for audit_record to send with its event."""
    fields = Credential._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = [f.get_db_prep_save(getattr(credential, f.attname), connection) for f in fields]
    table = connection.ops.quote_name(Credential._meta.db_table)
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})", values  # noqa: S608


def _is_name_conflict(exc: IntegrityError) -> bool:
    # PostgreSQL and SQLite both name the violated constraint in the message.
    return any(constraint.name in str(exc) for constraint in Credential._meta.constraints)


def _locked_for(actor: Any, credential_id: Any, action: str) -> Credential:
    """Lock the row for a write by ``actor``; hidden rows are not found, visible ones refused."""
    try:
        credential = (
            Credential.objects.select_for_update(of=("self",))
            .select_related("type")
            .get(pk=uuid.UUID(str(credential_id)))
        )
    except (ValueError, Credential.DoesNotExist):
        raise CredentialNotFound() from None
    if not user_can(actor, action, credential):
        if user_can_see(actor, credential):
            raise CredentialPermissionDenied(f"You may not {action} this credential.")
        raise CredentialNotFound()
    return credential


def _keeps_stored(value: Any) -> bool:
    return value is None or value == "" or value == SECRET_PLACEHOLDER


@sensitive_variables("changes", "submitted", "stored", "merged", "cleaned", "new_values")
def credential_update(
    *,
    actor: Any,
    credential_id: Any,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
    ip: str | None = None,
) -> Credential:
    """Apply a partial change. A secret omitted (or sent as the placeholder) keeps its stored value.

    Changing where the secret may go (``allowed_hosts`` or a destination field such as
    ``base_url``) requires every stored secret to be entered again, so that whoever may
    change a credential cannot redirect it to a server of their own.
    """
    unknown = sorted(set(changes) - _UPDATABLE)
    if unknown:
        raise InvalidCredential({key: ["This attribute cannot be changed here."] for key in unknown})
    errors: dict[str, list[str]] = {}
    _check_attributes(changes, errors)
    if "fields" in changes and not isinstance(changes["fields"], Mapping):
        errors["fields"] = ["Expected an object mapping field names to values."]

    with transaction.atomic():
        credential = _locked_for(actor, credential_id, CHANGE)
        if expected_version is not None and credential.version != expected_version:
            raise StaleVersion(expected=expected_version, current=credential.version)
        spec = credential.type.spec
        diff = _apply_attributes(credential, changes, errors)
        field_errors: dict[str, list[str]] = {}

        new_values: dict[str, Any] | None = None
        new_hosts = list(credential.allowed_hosts)
        if "allowed_hosts" in changes:
            cleaned_hosts = _clean_hosts(changes["allowed_hosts"], errors)
            new_hosts = cleaned_hosts if cleaned_hosts is not None else new_hosts
        hosts_changed = new_hosts != list(credential.allowed_hosts)

        if ("fields" in changes and "fields" not in errors) or hosts_changed:
            submitted = changes["fields"] if "fields" in changes and "fields" not in errors else {}
            unreadable = ""
            try:
                stored = _open(credential)["fields"]
            except DecryptionError as exc:
                # Nothing stored can be kept: a credential whose key is lost is repaired by
                # entering every field again, which seals it under the current key.
                stored, unreadable = {}, f"{exc} Enter every field again to replace it."
            merged, entered = _merge_submitted(spec, stored, submitted)
            cleaned, field_errors = _clean_fields(spec, merged)
            if unreadable and cleaned is None:
                errors["__all__"] = [unreadable]
            if cleaned is not None:
                destination_moved = any(stored.get(n) != cleaned.get(n) for n in spec.destination_fields)
                if destination_moved and "allowed_hosts" not in changes:
                    new_hosts = spec.default_allowed_hosts(cleaned)
                    hosts_changed = new_hosts != list(credential.allowed_hosts)
                if destination_moved or hosts_changed:
                    _require_secrets_again(spec, cleaned, entered, field_errors, errors, destination_moved)
                _check_destinations(spec, cleaned, new_hosts, errors)
                field_diff = _field_diff(spec, stored, cleaned)
                if field_diff:
                    diff["fields"] = field_diff
                    new_values = cleaned
        if hosts_changed:
            diff["allowed_hosts"] = {"old": list(credential.allowed_hosts), "new": new_hosts}

        if (
            not errors
            and ("name" in diff or "environment" in diff or diff.get("is_active", {}).get("new"))
            and credential.is_active
            and _name_taken(
                name=credential.name,
                environment=credential.environment,
                owner=credential.owner,
                team=credential.team,
                exclude=credential.pk,
            )
        ):
            errors["name"] = [_NAME_TAKEN]
        if errors or field_errors:
            raise InvalidCredential(errors, field_errors)
        if not diff:
            return credential

        credential.allowed_hosts = new_hosts
        if new_values is not None or hosts_changed:
            _seal(credential, spec, new_values if new_values is not None else cleaned)
        credential.version += 1
        credential.updated_by = actor
        credential.updated_at = timezone.now()
        try:
            with transaction.atomic():
                credential.save()
        except IntegrityError as exc:
            # Another request took the name between our check and our save.
            if _is_name_conflict(exc):
                raise InvalidCredential({"name": [_NAME_TAKEN]}) from None
            raise
        audit_record(
            action=AuditAction.UPDATED,
            actor=actor,
            credential=credential,
            ip=ip,
            fields=diff.get("fields", {}),
            details={"changes": diff, "version": credential.version},
        )
    return credential


def _apply_attributes(credential: Credential, changes: Mapping[str, Any], errors: dict) -> dict[str, Any]:
    """Set the valid clear attributes that differ; return their old and new values."""
    diff: dict[str, Any] = {}
    for attribute in ("name", "environment", "description", "tags", "expires_at", "is_active"):
        if attribute not in changes or attribute in errors:
            continue
        new = changes[attribute]
        new = new.strip() if attribute == "name" else new
        new = [t.strip() for t in new] if attribute == "tags" else new
        if new != getattr(credential, attribute):
            diff[attribute] = {"old": _jsonable(getattr(credential, attribute)), "new": _jsonable(new)}
            setattr(credential, attribute, new)
    return diff


@sensitive_variables("stored", "submitted", "merged")
def _merge_submitted(
    spec: types.CredentialType, stored: Mapping[str, Any], submitted: Mapping[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """The stored values overlaid with the submitted ones, and the names of secrets entered anew.

    A secret sent blank or as the placeholder keeps its stored value; an explicit null
    clears an optional one (a required one then fails validation).
    """
    secret_names = set(spec.secret_field_names)
    entered = {n for n in secret_names if n in submitted and not _keeps_stored(submitted[n])}
    cleared = {n for n in secret_names if n in submitted and submitted[n] is None}
    merged = {k: v for k, v in stored.items() if k not in cleared}
    merged.update({k: v for k, v in submitted.items() if k not in secret_names or k in entered})
    return merged, entered


def _require_secrets_again(
    spec: types.CredentialType,
    cleaned: Mapping[str, Any],
    entered: set[str],
    field_errors: dict[str, list[str]],
    errors: dict[str, list[str]],
    destination_moved: bool,
) -> None:
    missing = [name for name in spec.secret_field_names if name in cleaned and name not in entered]
    if not missing:
        return
    message = "Enter this secret again: changing where a credential may be sent requires it."
    for name in missing:
        field_errors.setdefault(name, []).append(message)
    if not destination_moved:
        errors.setdefault("allowed_hosts", []).append("Changing the allowed hosts requires entering the secrets again.")


def _field_diff(spec: types.CredentialType, old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Old and new values of changed non-secret fields; only "changed" for secrets."""
    secret_names = set(spec.secret_field_names)
    diff: dict[str, Any] = {}
    for name in sorted(set(old) | set(new)):
        if old.get(name) == new.get(name):
            continue
        diff[name] = "changed" if name in secret_names else {"old": old.get(name), "new": new.get(name)}
    return diff


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def credential_deactivate(*, actor: Any, credential_id: Any, ip: str | None = None) -> Credential:
    """Switch a credential off: the one door refuses it from then on. Its history stays."""
    with transaction.atomic():
        credential = _locked_for(actor, credential_id, CHANGE)
        if not credential.is_active:
            return credential
        credential.is_active = False
        credential.version += 1
        credential.updated_by = actor
        credential.updated_at = timezone.now()
        credential.save(update_fields=["is_active", "version", "updated_by", "updated_at"])
        audit_record(action=AuditAction.DEACTIVATED, actor=actor, credential=credential, ip=ip)
    return credential


def credential_delete(*, actor: Any, credential_id: Any, ip: str | None = None) -> None:
    """Audit first, overwrite the ciphertext, then remove the row; the audit trail keeps its name."""
    with transaction.atomic():
        credential = _locked_for(actor, credential_id, DELETE)
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
        CredentialType.objects.filter(is_system=True).exclude(slug__in=slugs).update(is_active=False)
    clear_type_cache()
