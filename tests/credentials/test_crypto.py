"""The key ring: round trip, tampering, rows swapped, unknown keys, several keys, key checks."""

import base64
import uuid

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from credentials.keys.ring import (
    KeyConfigError,
    KeyRing,
    MisboundError,
    TamperedError,
    UnknownKeyError,
    key_id_for,
    key_problems,
)

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
ID = uuid.uuid4()


def seal(ring, data, credential_id=ID, type_slug="github_pat", number=1):
    return ring.seal(credential_id=credential_id, type_slug=type_slug, number=number, data=data)


def open_(ring, sealed, credential_id=ID, type_slug="github_pat", number=1):
    return ring.open(
        credential_id=credential_id,
        type_slug=type_slug,
        number=number,
        ciphertext=sealed.ciphertext,
        key_id=sealed.key_id,
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(data=st.dictionaries(st.text(max_size=16), json_values, max_size=6))
def test_any_payload_round_trips(data):
    ring = KeyRing([KEY_A])
    assert open_(ring, seal(ring, data)) == data


def test_ciphertext_names_its_key_and_hides_the_payload():
    ring = KeyRing([KEY_A, KEY_B])
    sealed = seal(ring, {"token": "plain-canary"})
    assert sealed.key_id == key_id_for(KEY_A.encode()) == ring.primary_key_id
    assert len(sealed.key_id) == 16
    assert "plain-canary" not in sealed.ciphertext
    assert "plain-canary" not in base64.urlsafe_b64decode(sealed.ciphertext).decode("latin-1")


def test_key_ids_are_stable_and_distinct():
    assert key_id_for(KEY_A.encode()) == key_id_for(KEY_A.encode()) != key_id_for(KEY_B.encode())


def test_tampered_ciphertext_is_refused_with_the_credential_named():
    ring = KeyRing([KEY_A])
    sealed = seal(ring, {"token": "x"})
    raw = bytearray(base64.urlsafe_b64decode(sealed.ciphertext))
    raw[40] ^= 1
    altered = type(sealed)(base64.urlsafe_b64encode(bytes(raw)).decode(), sealed.key_id)
    with pytest.raises(TamperedError) as caught:
        open_(ring, altered)
    assert str(ID) in str(caught.value) and "altered" in str(caught.value)
    assert altered.ciphertext not in str(caught.value)


def test_garbage_ciphertext_is_refused():
    ring = KeyRing([KEY_A])
    with pytest.raises(TamperedError):
        ring.open(credential_id=ID, type_slug="t", number=1, ciphertext="not-a-token é", key_id=ring.primary_key_id)


def test_a_token_copied_to_another_row_is_refused():
    ring = KeyRing([KEY_A])
    sealed = seal(ring, {"token": "x"})
    with pytest.raises(MisboundError, match="copied from another row"):
        open_(ring, sealed, credential_id=uuid.uuid4())


def test_a_token_under_another_type_is_refused():
    ring = KeyRing([KEY_A])
    sealed = seal(ring, {"token": "x"})
    with pytest.raises(MisboundError):
        open_(ring, sealed, type_slug="gitlab_pat")


def test_a_token_under_an_unconfigured_key_is_refused():
    sealed = seal(KeyRing([KEY_A]), {"token": "x"})
    with pytest.raises(UnknownKeyError, match="not configured"):
        open_(KeyRing([KEY_B]), sealed)


def test_a_wrong_key_id_column_is_refused():
    ring = KeyRing([KEY_A, KEY_B])
    sealed = seal(ring, {"token": "x"})
    with pytest.raises(TamperedError):
        open_(ring, type(sealed)(sealed.ciphertext, key_id_for(KEY_B.encode())))


def test_first_key_encrypts_all_decrypt():
    old = seal(KeyRing([KEY_B]), {"token": "old"})
    ring = KeyRing([KEY_A, KEY_B])
    assert open_(ring, old) == {"token": "old"}
    assert seal(ring, {"token": "new"}).key_id == key_id_for(KEY_A.encode())


def test_key_problems_name_positions_never_values():
    bad = "not-a-key-value-" + "x" * 10
    problems = key_problems([KEY_A, bad, KEY_A])
    assert problems == [
        "FERNET_KEYS entry 2 of 3 is not a valid Fernet key (32 bytes, URL-safe base64: 44 characters ending in '=').",
        "FERNET_KEYS entry 3 of 3 repeats entry 1.",
    ]
    assert not any(bad in p or KEY_A in p for p in problems)
    with pytest.raises(KeyConfigError) as caught:
        KeyRing([KEY_A, bad])
    assert bad not in str(caught.value) and "entry 2 of 2" in str(caught.value)


def test_an_empty_ring_is_refused():
    with pytest.raises(KeyConfigError):
        KeyRing([])


def test_repr_shows_no_key():
    ring = KeyRing([KEY_A])
    assert KEY_A not in repr(ring) and ring.primary_key_id in repr(ring)
