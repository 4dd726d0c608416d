"""Input never chooses our cost: a key's KDF rounds, its size and type, a field's pattern, a schema's size.

Each ceiling is checked before the work it bounds. The tests prove that without a clock: the
work (bcrypt, a key loader, Python's backtracking ``re``) is replaced by a function that fails
the test if it is ever called.
"""

from __future__ import annotations

import functools

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from credentials.types import CustomCredentialType, Field, SchemaErrors, get_type, parse_schema, validate_values
from tests.costly_input import (
    PASSPHRASE,
    dsa_key_with_a_huge_group,
    no_backtracking,
    no_key_work,
    openssh_key,
    pkcs8_pbkdf2_key,
    pkcs8_pkcs12_pbe_key,
    pkcs8_scrypt_key,
)
from tests.factories import host_key_line


def refused_without_work(private_key: str, passphrase: str | None = PASSPHRASE) -> list[str]:
    with no_key_work():
        return key_errors(private_key, passphrase)


def key_errors(private_key: str, passphrase: str | None = PASSPHRASE) -> list[str]:
    values = {"private_key": private_key, "host_keys": host_key_line()}
    if passphrase:
        values["passphrase"] = passphrase
    with pytest.raises(SchemaErrors) as caught:
        get_type("ssh_key").clean(values)
    assert set(caught.value.errors) == {"private_key"}, caught.value.errors
    return caught.value.errors["private_key"]


def key_type_of(private_key: str, passphrase: str | None = PASSPHRASE) -> str:
    spec = get_type("ssh_key")
    values = {"private_key": private_key, "host_keys": host_key_line()}
    if passphrase:
        values["passphrase"] = passphrase
    return spec.metadata(spec.clean(values))["key_type"]


@functools.cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


# --- OpenSSH keys: bcrypt rounds, cipher and KDF names -------------------------------------------


def test_bcrypt_rounds_over_the_ceiling_are_refused_before_bcrypt_runs():
    # 6,000 rounds kept a worker busy 48 s; the key names its own rounds in its header.
    (message,) = refused_without_work(openssh_key(rounds=6000))
    assert message == (
        "This key's passphrase uses 6000 bcrypt rounds; at most 128 are accepted. "
        "Re-encrypt it with `ssh-keygen -p -a 100 -f KEY`."
    )


def test_bcrypt_rounds_up_to_the_ceiling_are_accepted(settings):
    key = openssh_key()  # 16 rounds, as ssh-keygen writes by default
    settings.SSH_KEY_MAX_BCRYPT_ROUNDS = 16
    assert key_type_of(key) == "ssh-ed25519"
    settings.SSH_KEY_MAX_BCRYPT_ROUNDS = 15
    assert "at most 15 are accepted" in key_errors(key)[0]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        pytest.param({"cipher": b"aes128-ctr"}, "aes128-ctr", id="cipher"),
        pytest.param({"kdf": b"argon2"}, "argon2", id="kdf"),
        pytest.param({"rounds": 0}, "0 bcrypt rounds", id="zero-rounds"),
    ],
)
def test_an_openssh_key_with_an_unknown_cipher_or_kdf_is_refused_by_field(changes, named):
    (message,) = refused_without_work(openssh_key(**changes))
    assert named in message


# --- PEM keys: PKCS#8's PBKDF2 iterations, scrypt costs, PKCS#12 PBE iterations ------------------


def test_pbkdf2_iterations_over_the_ceiling_are_refused_before_derivation():
    (message,) = refused_without_work(pkcs8_pbkdf2_key(claimed_iterations=10_000_000))
    assert "10000000 PBKDF2 iterations; at most 1000000 are accepted" in message
    assert "ssh-keygen -p" in message


def test_pbkdf2_iterations_up_to_the_ceiling_are_accepted(settings):
    key = pkcs8_pbkdf2_key(iterations=2048)
    settings.SSH_KEY_MAX_PBKDF2_ITERATIONS = 2048
    assert key_type_of(key) == "ssh-ed25519"
    settings.SSH_KEY_MAX_PBKDF2_ITERATIONS = 2047
    assert "2048 PBKDF2 iterations; at most 2047 are accepted" in key_errors(key)[0]


def test_pkcs12_pbe_iterations_over_the_ceiling_are_refused():
    (message,) = refused_without_work(pkcs8_pkcs12_pbe_key(iterations=10_000_000))
    assert "10000000" in message and "at most 1000000" in message


@pytest.mark.parametrize(
    ("costs", "named"),
    [
        pytest.param({"n": 2**20}, "1024 MiB of memory; at most 64 MiB", id="memory"),
        pytest.param({"n": 2**24, "r": 16}, "at most 64 MiB", id="memory-overflowing-r"),
        pytest.param({"n": 2**14, "p": 64}, "parallelism p=64; at most 4", id="parallelism"),
    ],
)
def test_scrypt_costs_over_the_ceiling_are_refused(costs, named):
    (message,) = refused_without_work(pkcs8_scrypt_key(**costs))
    assert named in message


def test_an_encrypted_pem_key_that_cannot_be_read_is_refused():
    # Its costs cannot be read, so it is not handed to a loader that might find some.
    truncated = (
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjAp\n-----END ENCRYPTED PRIVATE KEY-----\n"
    )
    (message,) = refused_without_work(truncated)
    assert "not a private key" in message


# --- Key types and sizes --------------------------------------------------------------------------


def test_a_dsa_key_is_refused_before_it_is_loaded():
    # Loading it computes g^x mod p: seconds for a 20,000-bit group in a 7 KiB key.
    (message,) = refused_without_work(dsa_key_with_a_huge_group(), passphrase=None)
    assert "Unsupported key type" in message


def _rsa_texts(key: rsa.RSAPrivateKey) -> dict[str, str]:
    def text(fmt: serialization.PrivateFormat) -> str:
        return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()

    return {
        "openssh": text(serialization.PrivateFormat.OpenSSH),
        "pkcs1": text(serialization.PrivateFormat.TraditionalOpenSSL),
        "pkcs8": text(serialization.PrivateFormat.PKCS8),
    }


@pytest.mark.parametrize("fmt", ["openssh", "pkcs1", "pkcs8"])
def test_rsa_keys_over_the_size_ceiling_are_refused(settings, fmt):
    text = _rsa_texts(rsa_key(2048))[fmt]
    settings.SSH_KEY_MAX_RSA_BITS = 2048
    assert key_type_of(text, passphrase=None) == "ssh-rsa"
    settings.SSH_KEY_MAX_RSA_BITS = 1024
    (message,) = key_errors(text, passphrase=None)
    assert "2048 bits; at most 1024 are accepted" in message


def test_an_encrypted_rsa_key_over_the_size_ceiling_is_refused_before_derivation(settings):
    settings.SSH_KEY_MAX_RSA_BITS = 1024
    (message,) = refused_without_work(openssh_key(key=rsa_key(2048)))
    assert "2048 bits; at most 1024 are accepted" in message
    # PKCS#8 hides the key's type and size until it is decrypted: its length gives them away.
    (message,) = refused_without_work(pkcs8_pbkdf2_key(key=rsa_key(2048)))
    assert "at most 1024 bits" in message


def test_a_legacy_encrypted_rsa_key_is_held_to_the_size_ceiling(settings):
    # "Proc-Type: 4,ENCRYPTED" costs one MD5 round: the size is checked once decrypted.
    text = (
        rsa_key(2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(PASSPHRASE.encode()),
        )
        .decode()
    )
    assert "Proc-Type: 4,ENCRYPTED" in text
    settings.SSH_KEY_MAX_RSA_BITS = 2048
    assert key_type_of(text) == "ssh-rsa"
    settings.SSH_KEY_MAX_RSA_BITS = 1024
    assert "2048 bits; at most 1024 are accepted" in key_errors(text)[0]


@pytest.mark.parametrize("curve", ["ed25519", "p256", "p384", "p521"])
@pytest.mark.parametrize("fmt", ["OpenSSH", "PKCS8", "TraditionalOpenSSL"])
@pytest.mark.parametrize("encrypted", [False, True])
def test_the_key_types_we_use_load_in_every_format(curve, fmt, encrypted):
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if curve == "ed25519" and fmt == "TraditionalOpenSSL":
        return  # no such format for Ed25519
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if curve == "ed25519"
        else ec.generate_private_key({"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}[curve])
    )
    encryption = (
        serialization.BestAvailableEncryption(PASSPHRASE.encode()) if encrypted else serialization.NoEncryption()
    )
    text = key.private_bytes(serialization.Encoding.PEM, getattr(serialization.PrivateFormat, fmt), encryption)
    expected = "ssh-ed25519" if curve == "ed25519" else f"ecdsa-sha2-nistp{curve[1:]}"
    assert key_type_of(text.decode(), passphrase=PASSPHRASE if encrypted else None) == expected


def test_an_rsa_key_that_fails_its_consistency_check_is_still_refused():
    numbers = rsa_key(2048).private_numbers()
    broken = rsa.RSAPrivateNumbers(
        p=numbers.p,
        q=numbers.q,
        d=numbers.d,
        dmp1=numbers.dmp1,
        dmq1=numbers.dmq1,
        iqmp=numbers.iqmp + 1,
        public_numbers=numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    text = broken.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    assert "not a private key" in key_errors(text, passphrase=None)[0]


# --- Patterns: RE2, linear in the input -----------------------------------------------------------


@pytest.fixture
def no_backtracking_here():
    """Python's ``re`` never runs these fields' patterns."""
    with no_backtracking("(a|aa)+", r"(a)\1", r"[A-Za-z0-9._-]+", r"[^:]+", r"/\S*"):
        yield


def test_an_exponential_pattern_runs_in_linear_time(no_backtracking_here):
    # On Python's re, (a|aa)+ against 'a' * n + 'b' takes time exponential in n.
    (spec,) = parse_schema([{"name": "code", "label": "Code", "pattern": "(a|aa)+"}])
    assert validate_values((spec,), {"code": "a" * 16_384}) == {"code": "a" * 16_384}
    with pytest.raises(SchemaErrors) as caught:
        validate_values((spec,), {"code": "a" * 16_383 + "b"})
    assert caught.value.errors["code"] == ["Enter a value matching the pattern (a|aa)+."]


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        pytest.param(r"(a)\1", "backreference", id="backreference"),
        pytest.param(r"(?=a)a", "lookaround", id="lookahead"),
        pytest.param(r"(?<!a)b", "lookaround", id="lookbehind"),
        pytest.param(r"a\Z", r"\z", id="python-end-anchor"),
        pytest.param("(", "missing )", id="syntax"),
        pytest.param("a" * 1001, "at most 1000 characters", id="too-long"),
        pytest.param(r".{1,999}", "too large", id="program-too-large"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_by_field(pattern, named):
    with pytest.raises(SchemaErrors) as caught:
        parse_schema([{"name": "code", "label": "Code", "pattern": pattern}])
    (message,) = caught.value.errors["field 1 (code)"]
    assert message.startswith("'pattern' ") and named in message, message


def test_the_builtin_patterns_run_on_re2(no_backtracking_here):
    ssh = get_type("ssh_key")
    basic = get_type("http_basic")
    for spec, field, good, bad in [
        (ssh, "username", "deploy.bot_1", "git@host"),
        (basic, "username", "svc", "a:b"),
        (basic, "test_path", "/health?full=1", "health"),
    ]:
        (rule,) = [f for f in spec.fields if f.name == field]
        assert validate_values((rule,), {field: good}) == {field: good}
        with pytest.raises(SchemaErrors):
            validate_values((rule,), {field: bad})


def test_a_stored_type_whose_pattern_re2_refuses_fails_closed(no_backtracking_here):
    # Saved before patterns ran on RE2: the type still loads, and no value passes the field.
    custom = CustomCredentialType(
        slug="legacy",
        name="Legacy",
        category="api",
        icon="key",
        description="",
        schema=[
            {"name": "code", "label": "Code", "pattern": r"(a)\1", "required": True},
            {"name": "token", "label": "Token", "secret": True, "required": True},
        ],
    )
    with pytest.raises(SchemaErrors) as caught:
        custom.clean({"code": "aa", "token": "s3cret-value"})
    (message,) = caught.value.errors["code"]
    assert "cannot be checked" in message and "backreference" in message


# --- A schema's size --------------------------------------------------------------------------------


def test_a_schema_has_at_most_50_fields():
    fields = [{"name": f"f{i}", "label": f"F{i}"} for i in range(51)]
    with pytest.raises(SchemaErrors) as caught:
        parse_schema(fields)
    assert caught.value.errors == {"__all__": ["A schema has at most 50 fields (this one has 51)."]}
    assert len(parse_schema(fields[:50])) == 50


def test_options_and_conditions_have_ceilings():
    with pytest.raises(SchemaErrors) as caught:
        parse_schema([{"name": "a", "label": "A", "type": "options", "options": [str(i) for i in range(201)]}])
    assert "at most 200 options" in caught.value.errors["field 1 (a)"][0]
    with pytest.raises(SchemaErrors) as caught:
        parse_schema(
            [
                {"name": "a", "label": "A"},
                {"name": "b", "label": "B", "show_if": {"a": [str(i) for i in range(51)]}},
            ]
        )
    assert "at most 50 values" in caught.value.errors["field 2 (b)"][0]


def test_a_field_of_the_default_shape_still_validates():
    # The ceilings leave ordinary schemas alone.
    spec = Field(name="code", label="Code", pattern=r"[A-Z]{3}", max_length=3)
    assert validate_values((spec,), {"code": "ABC"}) == {"code": "ABC"}
