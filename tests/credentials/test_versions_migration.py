"""Upgrading to secret history: each credential's payload, sealed before versions had numbers, is its version 1."""

import json
import uuid

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from credentials.keys.ring import MisboundError, key_id_for
from credentials.keys.sealing import open_version
from credentials.models import Credential, CredentialVersion
from tests.factories import make_user, reveal

BEFORE = [("credentials", "0005_credential_page_order")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    # Every app's: going back unapplies other apps' migrations that depend on these (credentials' on audit's).
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _legacy_token(credential_id, secret: str) -> tuple[str, str]:
    """A payload as the key ring sealed it before versions: no number in it."""
    key = settings.FERNET_KEYS[0].encode()
    payload = {
        "v": 1,
        "credential": str(credential_id),
        "type": "github_pat",
        "data": {"fields": {"token": secret}, "allowed_hosts": ["github.com"], "secret_fields": ["token"]},
    }
    return Fernet(key).encrypt(json.dumps(payload).encode()).decode(), key_id_for(key)


@pytest.mark.django_db(transaction=True)
def test_existing_payloads_become_version_one_and_still_open():
    owner = make_user("legacy-owner")
    latest = _latest()
    apps = _migrate(BEFORE)
    try:
        OldCredential = apps.get_model("credentials", "Credential")
        CredentialType = apps.get_model("credentials", "CredentialType")
        credential_id = uuid.uuid4()
        ciphertext, key_id = _legacy_token(credential_id, "legacy-secret-1234")
        OldCredential.objects.create(
            id=credential_id,
            name="from-before",
            type=CredentialType.objects.get(slug="github_pat"),
            owner_id=owner.pk,
            updated_by_id=owner.pk,
            allowed_hosts=["github.com"],
            secrets_set=["token"],
            ciphertext=ciphertext,
            key_id=key_id,
        )
    finally:
        _migrate(latest)
    credential = Credential.objects.get(pk=credential_id)
    [version] = CredentialVersion.objects.filter(credential=credential)
    assert (credential.secret_version, version.number, version.origin) == (1, 1, "recorded")
    assert version.ciphertext == ciphertext and version.created_by == owner
    assert open_version(credential, version)["fields"]["token"] == "legacy-secret-1234"
    assert reveal(owner, credential)["token"] == "legacy-secret-1234"
    version.number = 2  # an unnumbered payload is version 1 and no other
    with pytest.raises(MisboundError):
        open_version(credential, version)
