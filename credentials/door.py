"""The one door: the only way a credential's plaintext leaves the store, checked and audited."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_variables

from audit.models import AuditAction
from audit.services import audit_record
from config.actors import Actor
from credentials import outbound
from credentials.errors import (
    CredentialNotFound,
    CredentialPermissionDenied,
    CredentialUnavailable,
    DestinationRefused,
)
from credentials.keys.ring import DecryptionError
from credentials.keys.sealing import open_values, sealed_secret_names
from credentials.models import Credential
from credentials.permissions import USE, user_can, user_can_see
from credentials.type_cache import type_of_credential
from credentials.types.hosts import normalise_host


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

    def destination(self, host: str, port: int) -> outbound.Destination:
        """Where a use may connect: ``host`` must be allowed (above), and the address it resolves to, once,
        must pass the outbound address policy (credentials.outbound). Connect to the address returned."""
        self.check_destination(host)
        return outbound.resolve(host, port)


# The door reads only what it needs (who owns it, whether it may be used, its type, the sealed
# payload) in one plain statement on a plain cursor: it runs on every use, and the ORM's query
# building, or even a raw queryset's row mapping, costs more CPU than the database spends (a raw
# queryset cost 0.2 ms a call, a third of the door's own, profiled beside `make bench`'s load figure).
_DOOR_FIELDS = (
    "id", "name", "owner_id", "is_active", "expires_at", "ciphertext", "key_id", "secret_version", "type_id",
)  # fmt: skip
# In the model's field order, as Model.from_db() takes them.
_DOOR_COLUMNS = tuple(f.attname for f in Credential._meta.concrete_fields if f.attname in _DOOR_FIELDS)
_DOOR_SQL = f"SELECT {', '.join(_DOOR_COLUMNS)} FROM credentials_credential WHERE id = %s"  # noqa: S608


def _door_row(credential_id: uuid.UUID | str) -> Credential:
    try:
        pk = uuid.UUID(str(credential_id))
    except ValueError:
        raise CredentialNotFound() from None
    with connection.cursor() as cursor:
        # The key as this database stores it (SQLite keeps UUIDs as hex text).
        cursor.execute(_DOOR_SQL, [Credential._meta.pk.get_db_prep_value(pk, connection)])
        row = cursor.fetchone()
    if row is None:
        raise CredentialNotFound()
    values = dict(zip(_DOOR_COLUMNS, row, strict=True))
    values["id"] = pk
    values["is_active"] = bool(values["is_active"])  # SQLite answers 0 or 1
    values["expires_at"] = _aware(values["expires_at"])
    # The other columns stay deferred: the door never reads them.
    credential = Credential.from_db(connection.alias, _DOOR_COLUMNS, [values[column] for column in _DOOR_COLUMNS])
    # The cached row, so that credential.type costs no query.
    credential.type = type_of_credential(values["type_id"])
    return credential


def _aware(value: object) -> datetime | None:
    # PostgreSQL answers an aware datetime; SQLite, a naive one (or text) in UTC.
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        raise ValueError("The credential's expiry is not a date and time.")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@sensitive_variables("data", "values")
def credential_reveal(
    *,
    actor: Actor | None,
    credential_id: uuid.UUID | str,
    service: str,
    fields: Sequence[str] | None = None,
    ip: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> RevealedSecret:
    """The only way plaintext leaves the store: checks use, activity and expiry; audits every outcome.

    ``details`` (never a secret) says what the secret is for, such as the plugin being cloned.
    Every refusal or failure is a RevealRefused (credentials/errors.py), which callers catch once.
    """
    credential = _door_row(credential_id)
    spec = credential.type.spec
    known = {f.name for f in spec.fields}
    wanted = list(fields) if fields else sorted(known)
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise ValueError(f"{spec.slug} has no field(s) {', '.join(unknown)}")

    def audit(action: str, reason: str = "") -> None:
        # Each event commits on its own (one statement on PostgreSQL): a denial is kept even
        # though the caller then sees an exception.
        event_details = {**(details or {}), **({"reason": reason} if reason else {})}
        audit_record(
            action=action,
            actor=actor,
            credential=credential,
            ip=ip,
            service=service,
            fields=wanted,
            details=event_details,
        )

    if not user_can(actor, USE, credential):
        audit(AuditAction.ACCESS_DENIED, "no use permission")
        if user_can_see(actor, credential):
            raise CredentialPermissionDenied("You may not use this credential.")
        raise CredentialNotFound()
    if not credential.is_active:
        audit(AuditAction.ACCESS_DENIED, "inactive")
        raise CredentialUnavailable("This credential is inactive.")
    if credential.is_expired and credential.expires_at is not None:  # implied by the first; for the type checker
        audit(AuditAction.ACCESS_DENIED, "expired")
        raise CredentialUnavailable(f"This credential expired at {credential.expires_at.isoformat()}.")
    try:
        data = open_values(credential)
    except DecryptionError as exc:
        audit(AuditAction.ACCESS_FAILED, str(exc))
        raise  # a CredentialUnreadable, the family's member for a row that cannot be read
    # Audited before the plaintext is handed over: if the audit cannot be written, nothing is.
    audit(AuditAction.ACCESSED)
    values = {name: data["fields"][name] for name in wanted if name in data["fields"]}
    return RevealedSecret(
        credential_id=credential.pk,
        type_slug=spec.slug,
        values=values,
        secret_names=tuple(sorted(n for n in sealed_secret_names(data, spec) if n in values)),
        # The authenticated copy, not the column: a row edited in the database cannot redirect it.
        allowed_hosts=tuple(data["allowed_hosts"]),
    )
