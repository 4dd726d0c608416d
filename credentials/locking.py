"""Locking a credential's row for a write, with the same answer as the selectors for hidden rows."""

from __future__ import annotations

import uuid

from config.actors import Actor
from credentials.errors import CredentialNotFound, CredentialPermissionDenied
from credentials.models import Credential
from credentials.permissions import user_can, user_can_see


def lock_credential_for(actor: Actor, credential_id: uuid.UUID | str, action: str) -> Credential:
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
