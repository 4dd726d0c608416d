"""Sealing a credential's values into its row, and opening them: the store's use of the key ring."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.views.decorators.debug import sensitive_variables

from credentials import types
from credentials.keys.ring import get_keyring
from credentials.models import Credential, CredentialVersion


def open_values(credential: Credential) -> dict[str, Any]:
    """The payload sealed into the row: its fields, allowed hosts and the names of its secrets
    (DecryptionError if it cannot)."""
    return _open(credential, credential.secret_version, credential.ciphertext, credential.key_id)


def open_version(credential: Credential, version: CredentialVersion) -> dict[str, Any]:
    """The payload a kept version holds, as ``open_values`` answers for the row (DecryptionError if it cannot)."""
    return _open(credential, version.number, version.ciphertext, version.key_id)


def _open(credential: Credential, number: int, ciphertext: str, key_id: str) -> dict[str, Any]:
    return get_keyring().open(
        credential_id=credential.pk, type_slug=credential.type.slug, number=number, ciphertext=ciphertext, key_id=key_id
    )


@sensitive_variables("values")
def seal_values(
    credential: Credential, spec: types.CredentialType, values: Mapping[str, Any], metadata: Mapping[str, Any]
) -> None:
    """Encrypt the values (and the hosts they may go to) into the row as its ``secret_version``; refresh
    its clear copies.

    ``metadata`` is what ``spec.clean_with_metadata`` derived along with ``values``. The caller sets
    ``secret_version`` first (1 for a new row, one more for each change) and keeps the version's row.
    """
    secret_names = set(spec.secret_field_names)
    sealed = get_keyring().seal(
        credential_id=credential.pk,
        type_slug=spec.slug,
        number=credential.secret_version,
        data={
            "fields": dict(values),
            "allowed_hosts": list(credential.allowed_hosts),
            # Which values are secrets, kept with them: a later schema cannot make one plain.
            "secret_fields": sorted(secret_names & set(values)),
        },
    )
    credential.ciphertext = sealed.ciphertext
    credential.key_id = sealed.key_id
    credential.public_fields = {k: v for k, v in values.items() if k not in secret_names}
    credential.secrets_set = sorted(k for k in values if k in secret_names)
    credential.metadata = dict(metadata)


def sealed_secret_names(payload: Mapping[str, Any], spec: types.CredentialType) -> set[str]:
    """The fields of an opened payload that are secret: those it was sealed as, and the type's today.

    A payload sealed before it recorded its secrets counts the type's own.
    """
    return set(payload.get("secret_fields", ())) | set(spec.secret_field_names)
