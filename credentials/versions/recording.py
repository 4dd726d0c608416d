"""Keeping the payload just sealed into a credential as its newest version, and pruning the oldest."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.conf import settings

from config.actors import Actor
from credentials.models import Credential, CredentialVersion, VersionOrigin


def version_of_seal(
    credential: Credential,
    *,
    actor: Actor | None,
    origin: VersionOrigin,
    changed_fields: Iterable[str] = (),
    restored_from: int | None = None,
) -> CredentialVersion:
    """The (unsaved) row keeping the payload ``seal_values`` just put in ``credential``: same number, token and key.

    Its ``event_id`` is the uid its audit event must be written with (``audit_record_insert(..., uid=...)``).
    """
    return CredentialVersion(
        id=uuid.uuid4(),
        credential=credential,
        number=credential.secret_version,
        origin=origin,
        restored_from=restored_from,
        changed_fields=sorted(set(changed_fields)),
        ciphertext=credential.ciphertext,
        key_id=credential.key_id,
        created_at=credential.updated_at,
        created_by=actor,
        event_id=uuid.uuid4(),
    )


def versions_kept(credential: Credential) -> int:
    """How many versions the credential keeps: CREDENTIAL_MAX_VERSIONS, or its own lower number."""
    ceiling: int = settings.CREDENTIAL_MAX_VERSIONS
    own = credential.keep_versions
    return min(ceiling, own) if own else ceiling


def versions_prune(credential: Credential) -> int:
    """Delete the versions older than the newest ``versions_kept``; how many went. One statement.

    Numbers only grow, so the oldest are those at or below the current number less the count kept.
    """
    oldest_kept = credential.secret_version - versions_kept(credential) + 1
    if oldest_kept <= 1:
        return 0
    deleted, _ = CredentialVersion.objects.filter(credential=credential, number__lt=oldest_kept).delete()
    return deleted
