"""What a private key asks of us, read from its own header before any work: KDF costs, key type and size."""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Iterator

from asn1crypto import core, keys
from django.conf import settings

from credentials.types.schema import SchemaErrors

# An encrypted key names its own key derivation and its cost, and loading an RSA key checks its
# primes (time growing ~16x for each doubling of the size); a DSA key's loading computes g^x mod p.
# So before a key reaches a loader, every cost it names is read here and held to a ceiling (settings
# SSH_KEY_MAX_*), and types we do not use are refused. Per parse, measured on a 2-core server: one
# bcrypt round 7.4 ms (128 rounds: 0.95 s); a PBKDF2 iteration 0.13-0.5 us by hash (10^6: <= 0.5 s);
# scrypt at 64 MiB 0.18 s a pass; RSA's check 0.26 s at 4,096 bits, 4 s at 8,192, about a minute at 16,384.

NOT_A_KEY = "This is not a private key in OpenSSH or PEM format."
UNSUPPORTED_TYPE = "Unsupported key type: use Ed25519, ECDSA or RSA."

_OPENSSH_BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----"
_OPENSSH_END = "-----END OPENSSH PRIVATE KEY-----"
_OPENSSH_MAGIC = b"openssh-key-v1\0"
# What cryptography reads (its _SSH_CIPHERS); any other name is refused before the KDF.
_OPENSSH_CIPHERS = ("aes256-ctr", "aes256-cbc", "aes256-gcm@openssh.com")
_OPENSSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
_SCRYPT_OID = "1.3.6.1.4.1.11591.4.11"
_PKCS8_KEY_TYPES = ("rsa", "ec", "ed25519")


class _ScryptParams(core.Sequence):
    """RFC 7914's scrypt-params (asn1crypto 1.5 has no name for scrypt)."""

    _fields = [
        ("salt", core.OctetString),
        ("cost_parameter", core.Integer),
        ("block_size", core.Integer),
        ("parallelization_parameter", core.Integer),
        ("key_length", core.Integer, {"optional": True}),
    ]


def _refuse(message: str) -> SchemaErrors:
    return SchemaErrors({"private_key": [message]})


def _number(value: int) -> str:
    # An ASN.1 integer can be thousands of digits: str() of one over 4,300 digits raises.
    return str(value) if value < 10**18 else "more than 10^18"


def _reencrypt() -> str:
    rounds = min(100, settings.SSH_KEY_MAX_BCRYPT_ROUNDS)
    return f"Re-encrypt it with `ssh-keygen -p -a {rounds} -f KEY`."


def check_rsa_bits(bits: int) -> None:
    """Refuse an RSA key over SSH_KEY_MAX_RSA_BITS (its consistency check is the cost)."""
    ceiling = settings.SSH_KEY_MAX_RSA_BITS
    if bits > ceiling:
        raise _refuse(
            f"This RSA key has {_number(bits)} bits; at most {ceiling} are accepted. "
            f"Use an Ed25519 key (`ssh-keygen -t ed25519`), or RSA of at most {ceiling} bits."
        )


def check_key_costs(text: str) -> None:
    """Raise SchemaErrors on ``private_key`` if the key names a cost over a ceiling, or cannot be read.

    Every OpenSSH and every PEM private-key block in ``text`` is read, whichever the loader would
    pick: the check is a superset of what the loaders do, never a different guess.
    """
    for body in _blocks(text, _OPENSSH_BEGIN, _OPENSSH_END):
        _check_openssh(body)
    for label, body in _pem_blocks(text):
        if label == "ENCRYPTED PRIVATE KEY":
            _check_encrypted_pkcs8(_der(body))
        elif label == "PRIVATE KEY":
            _check_pkcs8(_der(body))
        elif label == "DSA PRIVATE KEY":
            raise _refuse(UNSUPPORTED_TYPE)
        # "RSA PRIVATE KEY" and "EC PRIVATE KEY": legacy encryption is one MD5 round; the RSA size
        # is checked once loaded, before the consistency check (credentials.types.ssh).


# --- Finding the blocks ------------------------------------------------------------------------------


def _blocks(text: str, begin: str, end: str) -> Iterator[str]:
    """The bodies between ``begin`` and the next ``end``, as cryptography's loaders find them (linear)."""
    at = 0
    while (start := text.find(begin, at)) != -1:
        stop = text.find(end, start + len(begin))
        if stop == -1:
            return
        yield text[start + len(begin) : stop]
        at = stop + len(end)


def _pem_blocks(text: str) -> Iterator[tuple[str, str]]:
    """(label, body) of each ``-----BEGIN label-----`` ... ``-----END`` block, as the PEM parser finds them."""
    at = 0
    while (start := text.find("-----BEGIN ", at)) != -1:
        label_end = text.find("-----", start + 11)
        if label_end == -1:
            return
        stop = text.find("-----END ", label_end + 5)
        if stop == -1:
            return
        yield text[start + 11 : label_end], text[label_end + 5 : stop]
        at = stop + 9


def _der(body: str) -> bytes:
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(NOT_A_KEY) from None


# --- OpenSSH's format: cipher, kdf, kdfoptions (salt, rounds), then the public key ----------------------


def _sshstr(data: bytes, at: int) -> tuple[bytes, int]:
    if at + 4 > len(data):
        raise ValueError("truncated")
    (length,) = struct.unpack(">I", data[at : at + 4])
    if at + 4 + length > len(data):
        raise ValueError("truncated")
    return data[at + 4 : at + 4 + length], at + 4 + length


def _check_openssh(body: str) -> None:
    try:
        blob = binascii.a2b_base64(body.encode("ascii", errors="ignore"))  # as cryptography decodes it
    except binascii.Error:
        raise _refuse(NOT_A_KEY) from None
    if not blob.startswith(_OPENSSH_MAGIC):
        raise _refuse(NOT_A_KEY)
    try:
        cipher, at = _sshstr(blob, len(_OPENSSH_MAGIC))
        kdf, at = _sshstr(blob, at)
        options, at = _sshstr(blob, at)
        at += 4  # the number of keys
        public, _ = _sshstr(blob, at)
        key_type, key_at = _sshstr(public, 0)
    except ValueError:
        raise _refuse(NOT_A_KEY) from None
    if cipher != b"none" or kdf != b"none":
        _check_openssh_kdf(cipher, kdf, options)
    name = key_type.decode("ascii", errors="replace")
    if name not in _OPENSSH_KEY_TYPES:
        raise _refuse(UNSUPPORTED_TYPE)
    if name == "ssh-rsa":
        try:
            _exponent, key_at = _sshstr(public, key_at)
            modulus, _ = _sshstr(public, key_at)
        except ValueError:
            raise _refuse(NOT_A_KEY) from None
        check_rsa_bits(int.from_bytes(modulus, "big").bit_length())


def _check_openssh_kdf(cipher: bytes, kdf: bytes, options: bytes) -> None:
    cipher_name = cipher.decode("ascii", errors="replace")[:64]
    if cipher_name not in _OPENSSH_CIPHERS:
        raise _refuse(
            f"This key is encrypted with cipher {cipher_name!r}, which is not supported "
            f"(use {', '.join(_OPENSSH_CIPHERS)}). Re-encrypt it with `ssh-keygen -p -Z aes256-ctr -f KEY`."
        )
    if kdf != b"bcrypt":
        kdf_name = kdf.decode("ascii", errors="replace")[:64]
        raise _refuse(
            f"This key's passphrase uses key derivation {kdf_name!r}, which is not supported: use bcrypt. "
            + _reencrypt()
        )
    try:
        _salt, at = _sshstr(options, 0)
        (rounds,) = struct.unpack(">I", options[at : at + 4])
    except (ValueError, struct.error):
        raise _refuse(NOT_A_KEY) from None
    ceiling = settings.SSH_KEY_MAX_BCRYPT_ROUNDS
    if rounds < 1:
        raise _refuse(f"This key's passphrase uses 0 bcrypt rounds: the key is damaged. {_reencrypt()}")
    if rounds > ceiling:
        raise _refuse(
            f"This key's passphrase uses {rounds} bcrypt rounds; at most {ceiling} are accepted. {_reencrypt()}"
        )


# --- PKCS#8: the encryption scheme (PBES2 with PBKDF2 or scrypt; PBES1; PKCS#12 PBE), the key type ------


def _check_pkcs8(der: bytes) -> None:
    try:
        info = keys.PrivateKeyInfo.load(der, strict=True)
        algorithm = info["private_key_algorithm"]["algorithm"].native
        modulus = info["private_key"].parsed["modulus"].native if algorithm == "rsa" else None
    except (ValueError, TypeError, KeyError, AttributeError):
        raise _refuse(NOT_A_KEY) from None
    if algorithm not in _PKCS8_KEY_TYPES:
        raise _refuse(UNSUPPORTED_TYPE)
    if modulus is not None:
        check_rsa_bits(modulus.bit_length())


def _check_encrypted_pkcs8(der: bytes) -> None:
    try:
        info = keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        scheme = info["encryption_algorithm"]
        name = scheme["algorithm"].native
        encrypted = len(info["encrypted_data"].native)
        if name == "pbes2":
            kdf = scheme["parameters"]["key_derivation_func"]
            kdf_name = kdf["algorithm"].native
            if kdf_name == "pbkdf2":
                _check_pbkdf2(kdf["parameters"]["iteration_count"].native, kdf["parameters"]["key_length"].native)
            elif kdf_name == _SCRYPT_OID:
                params = _ScryptParams.load(kdf["parameters"].dump(), strict=True)
                _check_scrypt(
                    params["cost_parameter"].native,
                    params["block_size"].native,
                    params["parallelization_parameter"].native,
                )
            else:
                raise _refuse(
                    f"This key's passphrase uses key derivation {str(kdf_name)[:64]!r}, which is not supported. "
                    + _reencrypt()
                )
        elif isinstance(name, str) and name.startswith(("pbes1_", "pkcs12_")):
            _check_iterations(scheme["parameters"]["iterations"].native, f"iterations of {name}")
        else:
            raise _refuse(
                f"This key is encrypted with a scheme this server does not read ({str(name)[:64]}). {_reencrypt()}"
            )
    except SchemaErrors:
        raise
    except (ValueError, TypeError, KeyError, AttributeError):
        raise _refuse(NOT_A_KEY) from None
    _check_encrypted_size(encrypted)


def _check_iterations(iterations: int, what: str) -> None:
    ceiling = settings.SSH_KEY_MAX_PBKDF2_ITERATIONS
    if iterations > ceiling:
        raise _refuse(
            f"This key's passphrase uses {_number(iterations)} {what}; at most {ceiling} are accepted. {_reencrypt()}"
        )


def _check_pbkdf2(iterations: int, key_length: int | None) -> None:
    _check_iterations(iterations, "PBKDF2 iterations")
    if key_length is not None and key_length > 64:  # AES-256 needs 32 bytes
        raise _refuse(NOT_A_KEY)


def _check_scrypt(n: int, r: int, p: int) -> None:
    memory = 128 * n * r
    ceiling = settings.SSH_KEY_MAX_SCRYPT_MEMORY
    if memory > ceiling:
        raise _refuse(
            f"This key's passphrase uses scrypt with N={_number(n)}, r={_number(r)}, which needs "
            f"{_number(memory // 2**20)} MiB of memory; at most {ceiling // 2**20} MiB is accepted. {_reencrypt()}"
        )
    parallelism = settings.SSH_KEY_MAX_SCRYPT_PARALLELISM
    if p > parallelism:
        raise _refuse(
            f"This key's passphrase uses scrypt with parallelism p={_number(p)}; at most {parallelism} is accepted. "
            + _reencrypt()
        )


def _check_encrypted_size(length: int) -> None:
    # Its type and size are known only once decrypted, inside the loader; but the ciphertext's length
    # is the key's. The largest key we accept (RSA at the ceiling, PKCS#8: n, d and five half-size
    # numbers, unbalanced primes allowed) fits in 5/8 of the bits in bytes, plus headers and padding.
    # A DSA or DH key of that length, whose loading computes g^x mod p, costs well under a second.
    bits = settings.SSH_KEY_MAX_RSA_BITS
    if length > 5 * bits // 8 + 256:
        raise _refuse(
            f"This encrypted key holds {length} bytes, more than any key this server accepts needs "
            f"(Ed25519, ECDSA, or RSA of at most {bits} bits)."
        )
