"""Restoring an earlier version of a credential's secret, and destroying one: each one audited step."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.models import AuditAction
from audit.services import audit_record_insert, audit_record_update
from config.actors import Actor
from config.events import raise_event
from credentials import events, types
from credentials.errors import InvalidCredential, StaleVersion, VersionNotFound
from credentials.keys.ring import DecryptionError
from credentials.keys.sealing import open_values, open_version, seal_values, sealed_secret_names
from credentials.locking import lock_credential_for
from credentials.models import Credential, CredentialVersion, VersionOrigin
from credentials.permissions import CHANGE, DELETE
from credentials.validation import check_destinations, clean_fields
from credentials.versions.recording import version_of_seal, versions_prune


@dataclass(frozen=True)
class Rollback:
    """What a rollback did: the credential as saved, the version it made, and whether the hosts came back too."""

    credential: Credential
    version: CredentialVersion
    restored_from: int
    hosts_restored: bool

    @property
    def message(self) -> str:
        """What it did, in words, for the API and the pages alike."""
        said = f"Version {self.restored_from} restored as version {self.version.number}."
        if self.hosts_restored:
            said += " Its allowed hosts were restored with it: the secret was entered for them."
        return f"{said} Plugins use it from their next sync."


def _kept_version(credential: Credential, number: object) -> CredentialVersion:
    """The credential's version ``number`` if it exists and still holds its payload; VersionNotFound if not."""
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise VersionNotFound(0)
    version = CredentialVersion.objects.filter(credential=credential, number=number).first()
    if version is None or version.is_destroyed:
        raise VersionNotFound(number)
    return version


@sensitive_variables("payload", "current", "fields", "cleaned")
def credential_rollback(
    *,
    actor: Actor,
    credential_id: uuid.UUID | str,
    number: int,
    expected_version: int | None = None,
    ip: str | None = None,
) -> Rollback:
    """Seal version ``number``'s payload again as the newest version (history only grows); one ``rolled_back`` event.

    Needs *change* and, when given, the credential's current ``version`` (StaleVersion otherwise).
    The version's allowed hosts come back with its secret: they were entered with it. It must pass
    today's checks of the type and of its destinations; what fails is named by field, never shown.
    Plugins use the restored secret from their next sync, through the one door.
    """
    with transaction.atomic():
        credential = lock_credential_for(actor, credential_id, CHANGE)
        if expected_version is not None and credential.version != expected_version:
            raise StaleVersion(expected=expected_version, current=credential.version)
        target = _kept_version(credential, number)
        if number == credential.secret_version:
            raise InvalidCredential({"version": [f"Version {number} is already the current one."]})
        spec = credential.type.spec
        payload = open_version(credential, target)  # DecryptionError (CredentialUnreadable) if it cannot
        fields = _restorable_fields(payload, spec)
        hosts = list(payload.get("allowed_hosts", []))
        cleaned, metadata, field_errors = clean_fields(spec, fields)
        errors: dict[str, list[str]] = {}
        if cleaned is not None:
            check_destinations(spec, cleaned, hosts, errors)
        if cleaned is None or errors:
            failing = sorted({*field_errors, *errors})
            raise InvalidCredential(
                {
                    "version": [
                        f"Version {number} cannot be restored: its {', '.join(failing)} no longer pass the checks."
                    ]
                }
            )
        changed = _changed_names(credential, spec, cleaned, hosts)
        previous = credential.secret_version
        hosts_restored = hosts != list(credential.allowed_hosts)
        credential.allowed_hosts = hosts
        credential.secret_version += 1
        credential.version += 1
        credential.updated_by = actor
        credential.updated_at = timezone.now()
        seal_values(credential, spec, cleaned, metadata)
        credential.save()
        version = version_of_seal(
            credential, actor=actor, origin=VersionOrigin.ROLLED_BACK, changed_fields=changed, restored_from=number
        )
        pruned = versions_prune(credential)
        audit_record_insert(
            version,
            action=AuditAction.ROLLED_BACK,
            uid=version.event_id,
            actor=actor,
            credential=credential,
            ip=ip,
            fields=[name for name in changed if name != "allowed_hosts"],
            details={
                "from": previous,
                "to": number,
                "secret_version": version.number,
                "version": credential.version,
                "changed": changed,
                "allowed_hosts_restored": hosts_restored,
                "versions_pruned": pruned,
            },
        )
        raise_event(
            events.rolled_back, Credential, credential_id=credential.pk, version=version.number,
            restored_from=number, actor_id=actor.pk,
        )  # fmt: skip
    return Rollback(credential=credential, version=version, restored_from=number, hosts_restored=hosts_restored)


def _restorable_fields(payload: Mapping[str, Any], spec: types.CredentialType) -> dict[str, Any]:
    """The version's fields the type still has; as an update does, never a value sealed as secret that the type
    now calls plain (it would be copied into the clear columns)."""
    exposed = sealed_secret_names(payload, spec) - set(spec.secret_field_names)
    current = {field.name for field in spec.fields}
    return {name: value for name, value in payload["fields"].items() if name in current and name not in exposed}


@sensitive_variables("current", "restored")
def _changed_names(
    credential: Credential, spec: types.CredentialType, restored: Mapping[str, Any], hosts: list[str]
) -> list[str]:
    """The names of the fields (and ``allowed_hosts``) the rollback changes: names only, never values."""
    try:
        current = open_values(credential)["fields"]
    except DecryptionError:  # today's payload is lost: everything changes
        current = {}
    names = sorted(name for name in {*current, *restored} if current.get(name) != restored.get(name))
    return [*names, "allowed_hosts"] if hosts != list(credential.allowed_hosts) else names


def credential_version_destroy(
    *, actor: Actor, credential_id: uuid.UUID | str, number: int, ip: str | None = None
) -> CredentialVersion:
    """Wipe version ``number``'s ciphertext for good, keeping when and by whom; one ``version_destroyed`` event.

    The owner's or an administrator's (*delete*). The current version cannot be destroyed: the
    credential would have no secret; change it first, or delete the credential.
    """
    with transaction.atomic():
        credential = lock_credential_for(actor, credential_id, DELETE)
        target = _kept_version(credential, number)
        if number == credential.secret_version:
            raise InvalidCredential(
                {
                    "version": [
                        f"Version {number} is the current one: change the secret first, or delete the credential."
                    ]
                }
            )
        wiped = {"ciphertext": "", "key_id": "", "destroyed_at": timezone.now(), "destroyed_by": actor}
        audit_record_update(
            CredentialVersion.objects.filter(pk=target.pk),
            wiped,
            action=AuditAction.VERSION_DESTROYED,
            actor=actor,
            credential=credential,
            ip=ip,
            details={"destroyed": number, "key_id": target.key_id},
        )
        for attribute, value in wiped.items():
            setattr(target, attribute, value)
    return target
