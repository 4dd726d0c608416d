"""Figure 1, the one door: credential_reveal against one SELECT, one decrypt, one audit INSERT and a commit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from benchmarks.environment import BenchContext
from benchmarks.harness import FigureResult, Operation, compare
from credentials.services import credential_reveal
from credentials.types import get_type

NAME = "reveal (the one door)"
GOAL = 1.5
SERVICE = "benchmark"

# The columns the door needs: who owns it, whether it is usable, and what to decrypt and check.
_SELECT = """
    SELECT c.id, c.name, c.owner_id, c.is_active, c.expires_at, c.ciphertext, c.key_id, t.slug
    FROM credentials_credential c JOIN credentials_credentialtype t ON t.id = c.type_id
    WHERE c.id = %s
"""
# The same row the service's audit event would be, in the same table, with its indexes and
# foreign keys; only its body and MAC are stand-ins (the fields' text, and a random value).
_INSERT_AUDIT = """
    INSERT INTO audit_auditevent (uid, created_at, action, actor_id, actor_repr, credential_id, credential_ref,
        credential_name, ip, service, fields, details, body, mac, key_id)
    VALUES (%s, %s, 'accessed', %s, %s, %s, %s, %s, NULL, %s, %s, '{}', %s, %s, %s)
"""


def run(context: BenchContext, *, iterations: int) -> FigureResult:
    reveal, floor = operations(context.owner, context.credential_ids, context.type_slug)
    return compare(name=NAME, goal=GOAL, op=reveal, baseline=floor, iterations=iterations)


def operations(owner: Any, ids: Sequence[uuid.UUID], type_slug: str) -> tuple[Operation, Operation]:
    """The one door, and its floor, over the seeded rows (also in the concurrency figure's processes)."""
    actor_repr = f"{owner.get_username()} (#{owner.pk})"
    fernet = Fernet(settings.FERNET_KEYS[0])
    # The service audits every field name of the type when the caller names none.
    field_names = json.dumps(sorted(field.name for field in get_type(type_slug).fields))

    def reveal(number: int) -> object:
        return credential_reveal(actor=owner, credential_id=ids[number % len(ids)], service=SERVICE)

    def floor(number: int) -> object:
        with connection.cursor() as cursor:
            cursor.execute(_SELECT, [ids[number % len(ids)]])
            credential_id, name, owner_id, _active, _expires, ciphertext, _key_id, _slug = cursor.fetchone()
            plaintext = fernet.decrypt(ciphertext.encode("ascii"))
            with transaction.atomic():
                cursor.execute(
                    _INSERT_AUDIT,
                    [
                        uuid.uuid4(),
                        timezone.now(),
                        owner_id,
                        actor_repr,
                        credential_id,
                        str(credential_id),
                        name,
                        SERVICE,
                        field_names,
                        field_names,
                        uuid.uuid4().hex * 2,
                        "0" * 16,
                    ],
                )
        return plaintext

    return reveal, floor
