"""The one door: the only way a credential's plaintext leaves the store, checked and audited."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.views.decorators.debug import sensitive_variables

from audit.models import AuditAction
from audit.services import audit_record
from credentials import outbound
from credentials.crypto import DecryptionError
from credentials.errors import (
    CredentialNotFound,
    CredentialPermissionDenied,
    CredentialUnavailable,
    DestinationRefused,
)
from credentials.models import Credential
from credentials.permissions import USE, user_can, user_can_see
from credentials.sealing import open_values, sealed_secret_names
from credentials.type_cache import type_by_pk
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
    details: Mapping[str, Any] | None = None,
) -> RevealedSecret:
    """The only way plaintext leaves the store: checks use, activity and expiry; audits every outcome.

    ``details`` (never a secret) says what the secret is for, such as the plugin being cloned.
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
    if credential.is_expired:
        audit(AuditAction.ACCESS_DENIED, "expired")
        raise CredentialUnavailable(f"This credential expired at {credential.expires_at.isoformat()}.")
    try:
        data = open_values(credential)
    except DecryptionError as exc:
        audit(AuditAction.ACCESS_FAILED, str(exc))
        raise
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
