"""Input that would choose our cost: keys whose header asks for expensive work, and guards that prove it never ran.

Each key is built cheaply (encrypted with a small cost, then its header rewritten to claim a
large one), since the code under test must refuse on the header, before any derivation. The
guards replace the work (bcrypt, a key loader, Python's backtracking ``re``) with a failure.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import struct
import textwrap
from collections.abc import Iterator

import bcrypt
import pytest
from asn1crypto import algos, core, keys
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.serialization import ssh as cryptography_ssh

PASSPHRASE = "pass-phrase"

_OPENSSH_BODY = re.compile(r"-----BEGIN OPENSSH PRIVATE KEY-----\n(.*?)-----END OPENSSH PRIVATE KEY-----", re.S)


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{what} ran: the ceiling must be checked before it")

    return refuse


@contextlib.contextmanager
def no_key_work() -> Iterator[None]:
    """Inside, any key derivation (bcrypt) or key loading (which derives, decrypts, validates) fails the test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cryptography_ssh, "_bcrypt_kdf", _refuse("bcrypt"))
        patch.setattr(bcrypt, "kdf", _refuse("bcrypt"))
        patch.setattr(serialization, "load_ssh_private_key", _refuse("the OpenSSH key loader"))
        patch.setattr(serialization, "load_pem_private_key", _refuse("the PEM key loader"))
        yield


@contextlib.contextmanager
def no_backtracking(*patterns: str) -> Iterator[None]:
    """Inside, Python's ``re`` running any of ``patterns`` (a field's pattern) fails the test."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("compile", "fullmatch", "match", "search"):
            original = getattr(re, name)

            def guarded(pattern, *args, _original=original, **kwargs):
                if pattern in patterns:
                    raise AssertionError(f"re.{_original.__name__} ran a field's pattern {pattern!r}")
                return _original(pattern, *args, **kwargs)

            patch.setattr(re, name, guarded)
        yield


def _pem(label: str, der: bytes) -> str:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def _sshstr(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _read_sshstr(data: bytes, at: int) -> tuple[bytes, int]:
    (length,) = struct.unpack(">I", data[at : at + 4])
    return data[at + 4 : at + 4 + length], at + 4 + length


def openssh_key(
    *,
    rounds: int | None = None,
    cipher: bytes | None = None,
    kdf: bytes | None = None,
    key: PrivateKeyTypes | None = None,
    passphrase: str = PASSPHRASE,
) -> str:
    """An encrypted OpenSSH key (16 bcrypt rounds), its header rewritten to name ``rounds``, ``cipher`` or ``kdf``."""
    key = key or ed25519.Ed25519PrivateKey.generate()
    text = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()
    blob = base64.b64decode("".join(_OPENSSH_BODY.search(text).group(1).split()))
    magic = b"openssh-key-v1\0"
    assert blob.startswith(magic)
    old_cipher, at = _read_sshstr(blob, len(magic))
    old_kdf, at = _read_sshstr(blob, at)
    options, at = _read_sshstr(blob, at)
    salt, _ = _read_sshstr(options, 0)
    (old_rounds,) = struct.unpack(">I", options[-4:])
    options = _sshstr(salt) + struct.pack(">I", old_rounds if rounds is None else rounds)
    blob = magic + _sshstr(cipher or old_cipher) + _sshstr(kdf or old_kdf) + _sshstr(options) + blob[at:]
    body = "\n".join(textwrap.wrap(base64.b64encode(blob).decode(), 70))
    return f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n"


def _private_key_info(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def pkcs8_pbkdf2_key(
    *,
    claimed_iterations: int | None = None,
    iterations: int = 2048,
    key: PrivateKeyTypes | None = None,
    passphrase: str = PASSPHRASE,
) -> str:
    """An ``ENCRYPTED PRIVATE KEY`` (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) that says ``claimed_iterations``.

    It is encrypted with ``iterations``: when the claim differs, the key would not decrypt; a reader
    that honoured the claim would run the claimed number of iterations first.
    """
    key = key or ed25519.Ed25519PrivateKey.generate()
    salt, iv = os.urandom(16), os.urandom(16)
    derived = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase.encode())
    padder = padding.PKCS7(128).padder()
    plain = padder.update(_private_key_info(key)) + padder.finalize()
    encryptor = Cipher(algorithms.AES(derived), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(plain) + encryptor.finalize()
    info = keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                            "iteration_count": claimed_iterations or iterations,
                            "prf": {"algorithm": "sha256"},
                        },
                    },
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": encrypted,
        }
    )
    return _pem("ENCRYPTED PRIVATE KEY", info.dump())


class _ScryptParams(core.Sequence):  # RFC 7914; asn1crypto 1.5 has no name for scrypt
    _fields = [
        ("salt", core.OctetString),
        ("cost_parameter", core.Integer),
        ("block_size", core.Integer),
        ("parallelization_parameter", core.Integer),
    ]


class _ScryptKdf(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", _ScryptParams)]


class _Pbes2Scrypt(core.Sequence):
    _fields = [("key_derivation_func", _ScryptKdf), ("encryption_scheme", algos.EncryptionAlgorithm)]


class _Pbes2Algorithm(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", _Pbes2Scrypt)]


class _EncryptedPrivateKeyInfo(core.Sequence):
    _fields = [("encryption_algorithm", _Pbes2Algorithm), ("encrypted_data", core.OctetString)]


def pkcs8_scrypt_key(*, n: int, r: int = 8, p: int = 1) -> str:
    """An ``ENCRYPTED PRIVATE KEY`` that names scrypt (RFC 7914) with these costs; its body is random."""
    params = {"salt": os.urandom(16), "cost_parameter": n, "block_size": r, "parallelization_parameter": p}
    info = _EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "1.2.840.113549.1.5.13",  # PBES2
                "parameters": {
                    "key_derivation_func": {"algorithm": "1.3.6.1.4.1.11591.4.11", "parameters": params},
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": os.urandom(16)},
                },
            },
            "encrypted_data": os.urandom(64),
        }
    )
    return _pem("ENCRYPTED PRIVATE KEY", info.dump())


def pkcs8_pkcs12_pbe_key(*, iterations: int) -> str:
    """An ``ENCRYPTED PRIVATE KEY`` under PKCS#12's pbeWithSHAAnd3-KeyTripleDES-CBC; its body is random."""
    info = keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pkcs12_sha1_tripledes_3key",
                "parameters": {"salt": os.urandom(8), "iterations": iterations},
            },
            "encrypted_data": os.urandom(64),
        }
    )
    return _pem("ENCRYPTED PRIVATE KEY", info.dump())


def dsa_key_with_a_huge_group(bits: int = 20_000) -> str:
    """An unencrypted PKCS#8 DSA key whose public value, g^x mod p, is slow to compute (seconds)."""
    p = secrets.randbits(bits) | (1 << (bits - 1)) | 1
    x = secrets.randbits(bits) | (1 << (bits - 1))
    info = keys.PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": {"algorithm": "dsa", "parameters": {"p": p, "q": (1 << 159) | 1, "g": 3}},
            "private_key": core.Integer(x),
        }
    )
    return _pem("PRIVATE KEY", info.dump())
