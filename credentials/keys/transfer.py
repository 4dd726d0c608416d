"""Export chosen credentials to a passphrase-sealed file, and import one: all-or-nothing, audited."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.models import AuditAction
from audit.services import audit_record, audit_record_insert
from credentials.errors import InvalidCredential
from credentials.keys.ring import DecryptionError
from credentials.keys.sealing import open_values, seal_values
from credentials.keys.transfer_file import open_file, seal_file
from credentials.models import Credential, VersionOrigin
from credentials.validation import check_attributes, check_destinations, clean_fields, clean_hosts, resolve_type
from credentials.versions.recording import version_of_seal

BODY_FORMAT = "latchkey-credentials-body"
_INSERT_BATCH = 500
# The clear attributes an export carries besides the fields; shares, tests and history stay behind.
_ATTRIBUTES = ("name", "environment", "description", "tags", "is_active")


class TransferError(Exception):
    """Nothing was exported or imported; ``problems`` says why, one line each."""

    def __init__(self, message: str, problems: Iterable[str] = ()):
        self.problems = list(problems)
        super().__init__(message)


@dataclass(frozen=True)
class Selection:
    """Which credentials to export: every filter given must match; ``everything`` when none is given."""

    owner: str | None = None
    team: str | None = None
    type_slug: str | None = None
    environment: str | None = None
    everything: bool = False

    def as_dict(self) -> dict[str, Any]:
        chosen = {k: v for k, v in self.__dict__.items() if v not in (None, False)}
        return chosen or {"everything": True}


@dataclass
class TransferResult:
    count: int
    file_sha256: str
    credential_ids: list[str] = field(default_factory=list)


# --- Export ------------------------------------------------------------------------------------


def _selected(selection: Selection):
    filters = [selection.owner, selection.team, selection.type_slug, selection.environment]
    if not selection.everything and all(value is None for value in filters):
        raise TransferError("Choose what to export: --all, or one or more of --owner, --team, --type, --environment.")
    rows = Credential.objects.select_related("type", "owner", "team").order_by("pk")
    if selection.owner is not None:
        owner = get_user_model().objects.filter(username=selection.owner).first()
        if owner is None:
            raise TransferError(f"There is no user named {selection.owner!r}.")
        rows = rows.filter(owner=owner)
    if selection.team is not None:
        team = Group.objects.filter(name=selection.team).first()
        if team is None:
            raise TransferError(f"There is no team named {selection.team!r}.")
        rows = rows.filter(team=team)
    if selection.type_slug is not None:
        rows = rows.filter(type__slug=selection.type_slug)
    if selection.environment is not None:
        rows = rows.filter(environment=selection.environment)
    return rows


@sensitive_variables("passphrase", "entries", "body", "data")
def credentials_export(
    *,
    selection: Selection,
    passphrase: str,
    path: Path,
    overwrite: bool = False,
    kdf: Mapping[str, Any] | None = None,
) -> TransferResult:
    """Write the chosen credentials, secrets included, to ``path`` sealed under ``passphrase``.

    Each credential gets an ``exported`` event naming the file's SHA-256, in one transaction
    with the file's creation: the file exists only if its events do. A credential that cannot
    be decrypted stops the export before anything is written. Shares, test results and audit
    history are not exported: they name users and groups of this instance.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise TransferError(f"{path} exists already; choose another name, or pass --force to replace it.")
    credentials = list(_selected(selection))
    if not credentials:
        raise TransferError(f"No credential matches {selection.as_dict()}: nothing was written.")
    entries, unreadable = [], []
    for credential in credentials:
        try:
            data = open_values(credential)
        except DecryptionError as exc:
            unreadable.append(f"{credential.name} ({credential.pk}): {exc}")
            continue
        entries.append(_entry(credential, data))
    if unreadable:
        raise TransferError(
            f"{len(unreadable)} credential(s) cannot be decrypted with the configured keys: nothing was written.",
            unreadable,
        )
    body = json.dumps(
        {"format": BODY_FORMAT, "exported_at": timezone.now().isoformat(), "credentials": entries},
        separators=(",", ":"),
    ).encode()
    sealed = seal_file(body, passphrase, kdf=dict(kdf) if kdf else None)
    digest = hashlib.sha256(sealed).hexdigest()
    written = False
    try:
        with transaction.atomic():
            for credential in credentials:
                audit_record(
                    action=AuditAction.EXPORTED,
                    credential=credential,
                    service="manage.py export_credentials",
                    details={"file_sha256": digest, "selection": selection.as_dict(), "count": len(credentials)},
                )
            # Last, inside the transaction: if it fails, the events roll back with it.
            _write_private(path, sealed, overwrite=overwrite)
            written = True
    except BaseException:
        if written:  # the commit failed: no file without its events
            path.unlink(missing_ok=True)
        raise
    return TransferResult(count=len(entries), file_sha256=digest, credential_ids=[str(c.pk) for c in credentials])


def _entry(credential: Credential, data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(credential.pk),
        "type": credential.type.slug,
        **{attribute: getattr(credential, attribute) for attribute in _ATTRIBUTES},
        "owner": credential.owner.get_username(),
        "team": credential.team.name if credential.team is not None else None,
        "retest_daily": credential.retest_daily,
        "expires_at": credential.expires_at.isoformat() if credential.expires_at else None,
        # The authenticated copies, as the one door trusts them, not the clear columns.
        "allowed_hosts": list(data["allowed_hosts"]),
        "fields": dict(data["fields"]),
    }


def _write_private(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write the file readable by its owner only, whole or not at all."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if the name was taken meanwhile
    except FileExistsError:
        raise TransferError(f"{path} exists already; choose another name, or pass --force to replace it.") from None
    finally:
        temporary.unlink(missing_ok=True)


# --- Import ------------------------------------------------------------------------------------


@dataclass
class _Planned:
    entry: dict[str, Any]
    type_row: Any
    cleaned: dict[str, Any]
    metadata: dict[str, Any]
    hosts: list[str]
    owner: Any
    team: Any
    expires_at: datetime | None


@sensitive_variables("passphrase", "body", "entries", "planned")
def credentials_import(
    *,
    data: bytes,
    passphrase: str,
    owner_username: str | None = None,
    keep_ids: bool = False,
    dry_run: bool = False,
) -> TransferResult:
    """Check every credential in the file against its type, then store them all in one transaction, or none.

    Each is sealed again under this instance's primary key, bound to its new row: a fresh id,
    or the exported one with ``keep_ids`` (a restore). Owners are matched by username, or all
    given to ``owner_username``; teams by name. A name already taken (or taken twice in the
    file) is refused. Each stored credential gets an ``imported`` event naming the file's
    SHA-256 and the id it had where it was exported.
    """
    digest = hashlib.sha256(data).hexdigest()
    body = _body(open_file(data, passphrase))
    entries = body["credentials"]
    planned = _plan(entries, owner_username, keep_ids)
    result = TransferResult(count=len(planned), file_sha256=digest)
    if dry_run:
        return result
    now = timezone.now()
    try:
        with transaction.atomic():
            rows = []
            for plan in planned:
                credential = Credential(
                    id=uuid.UUID(plan.entry["id"]) if keep_ids else uuid.uuid4(),
                    name=plan.entry["name"].strip(),
                    type=plan.type_row,
                    environment=plan.entry["environment"],
                    owner=plan.owner,
                    team=plan.team,
                    description=plan.entry["description"],
                    tags=[t.strip() for t in plan.entry["tags"]],
                    is_active=plan.entry["is_active"],
                    expires_at=plan.expires_at,
                    # Absent from files written before the switch existed: off, as for a new credential.
                    retest_daily=plan.entry.get("retest_daily") is True,
                    allowed_hosts=plan.hosts,
                    created_at=now,
                    updated_at=now,
                )
                seal_values(credential, plan.type_row.spec, plan.cleaned, plan.metadata)
                rows.append(credential)
            Credential.objects.bulk_create(rows, batch_size=_INSERT_BATCH)
            for credential, plan in zip(rows, planned, strict=True):
                # Its history here starts with the payload as imported (the file carries no older versions).
                version = version_of_seal(
                    credential, actor=None, origin=VersionOrigin.IMPORTED, changed_fields=plan.cleaned
                )
                audit_record_insert(
                    version,
                    action=AuditAction.IMPORTED,
                    uid=version.event_id,
                    credential=credential,
                    service="manage.py import_credentials",
                    details={
                        "file_sha256": digest,
                        "exported_id": plan.entry["id"],
                        "type": plan.type_row.slug,
                        "environment": credential.environment,
                    },
                )
    except IntegrityError as exc:
        # A name or id taken between the checks and the insert: nothing was stored.
        raise TransferError(f"Nothing was imported: the database refused the rows ({exc}).".strip()) from None
    result.credential_ids = [str(row.pk) for row in rows]
    return result


def _body(plaintext: bytes) -> dict[str, Any]:
    try:
        body = json.loads(plaintext)
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("format") != BODY_FORMAT or not isinstance(body.get("credentials"), list):
        raise TransferError("The file opened, but its contents are not a Latchkey credentials export.")
    if not all(isinstance(entry, dict) for entry in body["credentials"]):
        raise TransferError("The file opened, but an entry in it is not a credential.")
    return body


def _plan(entries: list[dict[str, Any]], owner_username: str | None, keep_ids: bool) -> list[_Planned]:
    problems: list[str] = []
    owners = _owners(entries, owner_username, problems)
    teams = _teams(entries, problems)
    planned: list[_Planned] = []
    for number, entry in enumerate(entries, start=1):
        label = f"credential {number} ({str(entry.get('name'))[:100]!r}, exported as {entry.get('id')})"
        plan = _check_entry(entry, owners, teams, keep_ids, label, problems)
        if plan is not None:
            planned.append(plan)
    if not problems:
        _check_names(planned, problems)
        if keep_ids:
            taken = Credential.objects.filter(pk__in=[p.entry["id"] for p in planned]).values_list("pk", flat=True)
            problems.extend(f"id {pk} exists already here: import without --keep-ids" for pk in taken)
    if problems:
        raise TransferError(f"Nothing was imported: {len(problems)} problem(s) in the file.", problems)
    return planned


def _owners(entries: list[dict[str, Any]], owner_username: str | None, problems: list[str]) -> dict[str, Any]:
    users = get_user_model().objects
    if owner_username is not None:
        owner = users.filter(username=owner_username).first()
        if owner is None:
            raise TransferError(f"There is no user named {owner_username!r} to own the imported credentials.")
        return {str(entry.get("owner")): owner for entry in entries}
    wanted = {str(entry.get("owner")) for entry in entries}
    found = {user.get_username(): user for user in users.filter(username__in=wanted)}
    missing = sorted(wanted - set(found))
    if missing:
        problems.append(
            f"no user here is named {', '.join(map(repr, missing))}: create them, or give every imported "
            "credential one owner with --owner"
        )
    return found


def _teams(entries: list[dict[str, Any]], problems: list[str]) -> dict[str, Group]:
    wanted = {str(entry["team"]) for entry in entries if entry.get("team") is not None}
    found = {group.name: group for group in Group.objects.filter(name__in=wanted)}
    missing = sorted(wanted - set(found))
    if missing:
        problems.append(f"no team here is named {', '.join(map(repr, missing))}: create the group first")
    return found


@sensitive_variables("entry", "cleaned")
def _check_entry(
    entry: dict[str, Any],
    owners: dict[str, Any],
    teams: dict[str, Group],
    keep_ids: bool,
    label: str,
    problems: list[str],
) -> _Planned | None:
    errors: dict[str, list[str]] = {}
    missing = [key for key in ("id", "type", *_ATTRIBUTES, "owner", "fields", "allowed_hosts") if key not in entry]
    if missing:
        problems.append(f"{label}: missing {', '.join(missing)}")
        return None
    try:
        uuid.UUID(str(entry["id"]))
    except ValueError:
        if keep_ids:
            errors["id"] = ["Not a UUID."]
    try:
        type_row = resolve_type(entry["type"])
    except InvalidCredential as exc:
        problems.append(f"{label}: {exc.errors['type'][0]} Create the type here first.")
        return None
    expires_at = None
    if entry.get("expires_at") is not None:
        try:
            expires_at = datetime.fromisoformat(str(entry["expires_at"]))
        except ValueError:
            errors["expires_at"] = ["Not an ISO 8601 date and time."]
    # An expired credential is restored as it was (the one door refuses it): a backup keeps history.
    check_attributes({**{k: entry[k] for k in _ATTRIBUTES}, "expires_at": expires_at}, errors)
    spec = type_row.spec
    cleaned, metadata, field_errors = clean_fields(spec, entry["fields"])
    hosts = clean_hosts(entry["allowed_hosts"], errors)
    if cleaned is not None and hosts is not None:
        check_destinations(spec, cleaned, hosts, errors)
    for key, messages in sorted(errors.items()):
        problems.append(f"{label}: {key}: {' '.join(messages)}")
    for name, messages in sorted(field_errors.items()):
        problems.append(f"{label}: field {name}: {' '.join(map(str, messages))}")
    if errors or field_errors or cleaned is None or hosts is None:
        return None
    owner = owners.get(str(entry["owner"]))
    team = teams.get(str(entry["team"])) if entry.get("team") is not None else None
    if owner is None or (entry.get("team") is not None and team is None):
        return None  # already reported once for the whole file
    return _Planned(entry, type_row, cleaned, metadata, hosts, owner, team, expires_at)


def _check_names(planned: list[_Planned], problems: list[str]) -> None:
    """Active names must be free here and appear once in the file, per owner (or team) and environment."""

    def key(owner_id: Any, team_id: Any, environment: str, name: str) -> tuple[Any, ...]:
        whose = ("team", team_id) if team_id else ("owner", owner_id)
        return (*whose, environment, name.lower())

    active = [p for p in planned if p.entry["is_active"]]
    seen: dict[tuple[Any, ...], str] = {}
    for plan in active:
        team_id = plan.team.pk if plan.team else None
        k = key(plan.owner.pk, team_id, plan.entry["environment"], plan.entry["name"].strip())
        if k in seen:
            problems.append(f"{plan.entry['name']!r} ({plan.entry['environment']}) appears twice in the file")
        seen[k] = plan.entry["name"]
    if not active:
        return
    owner_ids = {p.owner.pk for p in active if p.team is None}
    team_ids = {p.team.pk for p in active if p.team is not None}
    existing = (
        Credential.objects.filter(is_active=True, environment__in={p.entry["environment"] for p in active})
        .filter(Q(owner_id__in=owner_ids, team__isnull=True) | Q(team_id__in=team_ids))
        .annotate(lower_name=Lower("name"))
        .values_list("owner_id", "team_id", "environment", "lower_name", "name")
    )
    names = {("owner", p.owner.pk): p.owner.get_username() for p in active}
    names.update({("team", p.team.pk): p.team.name for p in active if p.team is not None})
    for owner_id, team_id, environment, lower_name, name in existing:
        if key(owner_id, team_id, environment, lower_name) in seen:
            whose = f"team {names[('team', team_id)]!r}" if team_id else f"user {names[('owner', owner_id)]!r}"
            problems.append(
                f"an active credential named {name!r} exists already here in {environment} for {whose}: "
                "rename or deactivate it first"
            )
