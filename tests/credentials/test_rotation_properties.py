"""Properties (Hypothesis): payloads round-trip; rotation is idempotent; then the new key alone opens it all."""

import uuid

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credentials.keys.ring import KeyRing, MisboundError
from credentials.keys.rotation import credential_keys_rotate
from credentials.keys.transfer_file import ExportFileError, open_file, seal_file
from credentials.models import Credential, CredentialVersion, VersionOrigin
from credentials.type_cache import type_by_slug

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=12), json_values, max_size=6)
# Cheap costs, so that a hundred examples take seconds; the format records them, as it does the real ones.
CHEAP = {"name": "argon2id", "memory_kib": 64, "iterations": 1, "lanes": 1}
DB_EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VERSIONS = 3  # each credential's history: versions 1 to 3, the row holding the payload of 3


@given(data=payloads, type_slug=st.sampled_from(["github_pat", "ssh_key", "custom-x"]))
def test_any_payload_round_trips_through_sealing_and_resealing(data, type_slug):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    credential_id = uuid.uuid4()
    sealed = KeyRing([old]).seal(credential_id=credential_id, type_slug=type_slug, number=1, data=data)
    moved = KeyRing([new, old]).reseal(
        credential_id=credential_id, type_slug=type_slug, number=1, ciphertext=sealed.ciphertext, key_id=sealed.key_id
    )
    opened = KeyRing([new]).open(
        credential_id=credential_id, type_slug=type_slug, number=1, ciphertext=moved.ciphertext, key_id=moved.key_id
    )
    assert opened == data


@DB_EXAMPLES
@given(data=st.lists(payloads, min_size=0, max_size=8), batch_size=st.integers(min_value=1, max_value=5))
def test_rotation_is_idempotent_and_leaves_every_row_and_version_to_the_new_key_alone(owner, data, batch_size):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    type_row = type_by_slug("github_pat")
    rows, versions = [], []

    def sealed(credential: Credential, number: int, payload: dict):
        return KeyRing([old]).seal(
            credential_id=credential.pk, type_slug="github_pat", number=number, data={"n": number, **payload}
        )

    for position, payload in enumerate(data):
        credential = Credential(name=f"p{position}", type=type_row, owner=owner, secret_version=VERSIONS)
        row_token = sealed(credential, VERSIONS, payload)
        credential.ciphertext, credential.key_id = row_token.ciphertext, row_token.key_id
        rows.append(credential)
        for number in range(1, VERSIONS + 1):
            token = sealed(credential, number, payload)
            versions.append(
                CredentialVersion(
                    credential=credential,
                    number=number,
                    origin=VersionOrigin.CREATED if number == 1 else VersionOrigin.CHANGED,
                    ciphertext=token.ciphertext,
                    key_id=token.key_id,
                )
            )
    Credential.objects.bulk_create(rows)
    CredentialVersion.objects.bulk_create(versions)
    try:
        ring = KeyRing([new, old])
        first = credential_keys_rotate(keyring=ring, batch_size=batch_size)
        assert first.ok and first.rows.rotated.total() == len(data)
        assert first.versions.rotated.total() == VERSIONS * len(data)
        tokens = dict(Credential.objects.values_list("pk", "ciphertext"))
        version_tokens = dict(CredentialVersion.objects.values_list("pk", "ciphertext"))

        second = credential_keys_rotate(keyring=ring, batch_size=batch_size)
        assert second.ok and not second.rows.rotated and not second.rows.pending
        assert not second.versions.rotated and not second.versions.pending
        assert dict(Credential.objects.values_list("pk", "ciphertext")) == tokens
        assert dict(CredentialVersion.objects.values_list("pk", "ciphertext")) == version_tokens

        alone = KeyRing([new])
        for credential, payload in zip(rows, data, strict=True):
            row = Credential.objects.get(pk=credential.pk)
            opened = alone.open(
                credential_id=row.pk,
                type_slug="github_pat",
                number=VERSIONS,
                ciphertext=row.ciphertext,
                key_id=row.key_id,
            )
            assert opened == {"n": VERSIONS, **payload}
            for version in CredentialVersion.objects.filter(credential=credential):
                assert version.key_id == alone.primary_key_id
                token = {"ciphertext": version.ciphertext, "key_id": version.key_id, "type_slug": "github_pat"}
                assert alone.open(credential_id=row.pk, number=version.number, **token) == {
                    "n": version.number,
                    **payload,
                }
                with pytest.raises(MisboundError):  # bound to its number still
                    alone.open(credential_id=row.pk, number=version.number % VERSIONS + 1, **token)
                with pytest.raises(MisboundError):  # and to its credential
                    alone.open(credential_id=uuid.uuid4(), number=version.number, **token)
    finally:
        Credential.objects.filter(pk__in=[row.pk for row in rows]).delete()


@settings(max_examples=50, deadline=None)
@given(body=st.binary(max_size=2000), passphrase=st.text(min_size=12, max_size=40))
def test_any_body_round_trips_through_an_export_file(body, passphrase):
    assert open_file(seal_file(body, passphrase, kdf=CHEAP), passphrase) == body


@settings(max_examples=50, deadline=None)
@given(body=st.binary(min_size=1, max_size=200), position=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_altered_byte_is_refused(body, position, bit):
    data = bytearray(seal_file(body, "twelve chars!", kdf=CHEAP))
    position %= len(data)
    data[position] ^= 1 << bit
    try:
        opened = open_file(bytes(data), "twelve chars!")
    except ExportFileError:
        return
    # Base64 padding and JSON whitespace have bits that decode to the same bytes: then nothing changed.
    assert opened == body


def test_the_passphrase_must_be_long_enough():
    with pytest.raises(ExportFileError, match="at least 12"):
        seal_file(b"x", "short", kdf=CHEAP)
