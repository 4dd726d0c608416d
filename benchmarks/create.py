"""Figure 2, create: credential_create against one encrypt, one credential INSERT, one audit INSERT and a commit."""

from __future__ import annotations

import json
import uuid

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from benchmarks.environment import BenchContext
from benchmarks.harness import FigureResult, compare
from credentials.keys.ring import PAYLOAD_VERSION
from credentials.services import credential_create
from credentials.types import get_type

NAME = "create"
GOAL = 1.5

_INSERT_CREDENTIAL = """
    INSERT INTO credentials_credential (id, name, type_id, environment, owner_id, team_id, description, tags,
        is_active, expires_at, allowed_hosts, public_fields, secrets_set, metadata, ciphertext, key_id, version,
        last_tested, test_status, test_message, created_by_id, updated_by_id, created_at, updated_at)
    VALUES (%s, %s, %s, 'production', %s, NULL, '', '[]', true, NULL, %s, %s, %s, %s, %s, %s, 1,
        NULL, '', '', %s, %s, %s, %s)
"""
# The service's "created" event, in the real table with its indexes; only its body and MAC are
# stand-ins (the details' text, and a random value), computed by no key.
_INSERT_AUDIT = """
    INSERT INTO audit_auditevent (uid, created_at, action, actor_id, actor_repr, credential_id, credential_ref,
        credential_name, ip, service, fields, details, body, mac, key_id)
    VALUES (%s, %s, 'created', %s, %s, %s, %s, %s, NULL, '', %s, %s, %s, %s, %s)
"""


def run(context: BenchContext, *, iterations: int) -> FigureResult:
    owner = context.owner
    actor_repr = f"{owner.get_username()} (#{owner.pk})"
    spec = get_type(context.type_slug)
    # Validation belongs to the service, not the floor: the floor starts from clean values.
    cleaned = spec.clean(context.fields)
    hosts = spec.default_allowed_hosts(cleaned)
    secret_names = set(spec.secret_field_names)
    public_fields = json.dumps({k: v for k, v in cleaned.items() if k not in secret_names})
    secrets_set = sorted(k for k in cleaned if k in secret_names)
    metadata = json.dumps(spec.metadata(cleaned))
    audit_fields = json.dumps(sorted(cleaned))
    audit_details = json.dumps(
        {"type": spec.slug, "environment": "production", "allowed_hosts": hosts, "secrets_set": secrets_set}
    )
    type_id = context.type_id
    key_id = context.key_id
    fernet = Fernet(settings.FERNET_KEYS[0])

    def create(number: int) -> object:
        return credential_create(
            actor=owner, type_slug=context.type_slug, name=f"create-{uuid.uuid4().hex}", fields=context.fields
        )

    def floor(number: int) -> object:
        credential_id = uuid.uuid4()
        name = f"floor-{uuid.uuid4().hex}"
        # Bound to its row like the service's payload, so the rows it leaves can be opened.
        plaintext = json.dumps(
            {
                "v": PAYLOAD_VERSION,
                "credential": str(credential_id),
                "type": spec.slug,
                "data": {"fields": cleaned, "allowed_hosts": hosts},
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        ciphertext = fernet.encrypt(plaintext).decode("ascii")
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _INSERT_CREDENTIAL,
                [
                    credential_id,
                    name,
                    type_id,
                    owner.pk,
                    json.dumps(hosts),
                    public_fields,
                    json.dumps(secrets_set),
                    metadata,
                    ciphertext,
                    key_id,
                    owner.pk,
                    owner.pk,
                    now,
                    now,
                ],
            )
            cursor.execute(
                _INSERT_AUDIT,
                [
                    uuid.uuid4(),
                    now,
                    owner.pk,
                    actor_repr,
                    credential_id,
                    str(credential_id),
                    name,
                    audit_fields,
                    audit_details,
                    audit_details,
                    uuid.uuid4().hex * 2,
                    "0" * 16,
                ],
            )
        return credential_id

    return compare(name=NAME, goal=GOAL, op=create, baseline=floor, iterations=iterations)
