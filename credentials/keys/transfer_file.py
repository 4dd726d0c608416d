"""The export file: a body sealed under a passphrase (Argon2id or scrypt, then AES-256-GCM), versioned.

A file is two lines of ASCII. The first is the header, a JSON object naming the format, its
version, the key derivation with its salt and costs, the cipher and its nonce, and a check value
for the passphrase. The second is the encrypted body in base64. The header line, byte for byte,
is the cipher's associated data: changing any of it (a cost, the salt, the version) makes the
file fail authentication. The key derivation yields 64 bytes: the first 32 are the AES key; the
last 32 are the check value, which tells a wrong passphrase from an altered file (AES-GCM alone
cannot) and commits the file to one key.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.views.decorators.debug import sensitive_variables

FORMAT = "latchkey-credentials"
VERSION = 1
CIPHER = "AES-256-GCM"
MIN_PASSPHRASE_LENGTH = 12

# RFC 9106's second recommended setting (64 MiB, 3 passes, 4 lanes): about 0.1 s here.
ARGON2ID = {"name": "argon2id", "memory_kib": 65536, "iterations": 3, "lanes": 4}
# scrypt at 128 MiB (n=2^17, r=8), for files read where OpenSSL lacks Argon2.
SCRYPT = {"name": "scrypt", "n": 2**17, "r": 8, "p": 1}
# What a file may ask of the reader: enough for any file we write, not enough to exhaust a host.
_LIMITS = {
    "argon2id": {"memory_kib": (8, 1 << 20), "iterations": (1, 16), "lanes": (1, 16)},
    "scrypt": {"n": (2, 1 << 20), "r": (1, 16), "p": (1, 4)},
}


class ExportFileError(Exception):
    """The file cannot be read; the message says why, and never shows the passphrase."""


class WrongPassphrase(ExportFileError):
    pass


class AlteredFile(ExportFileError):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    try:
        raw = text if isinstance(text, bytes) else str(text).encode("ascii")
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ExportFileError(f"The file's {what} is not valid base64: the file is damaged.") from None


@sensitive_variables("passphrase", "derived")
def _derive(passphrase: str, kdf: dict[str, Any], salt: bytes) -> bytes:
    secret = passphrase.encode("utf-8")
    if kdf["name"] == "argon2id":
        return Argon2id(
            salt=salt,
            length=64,
            iterations=kdf["iterations"],
            lanes=kdf["lanes"],
            memory_cost=kdf["memory_kib"],
        ).derive(secret)
    return Scrypt(salt=salt, length=64, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(secret)


def _check_kdf(kdf: Any) -> dict[str, Any]:
    if not isinstance(kdf, dict) or kdf.get("name") not in _LIMITS:
        name = kdf.get("name") if isinstance(kdf, dict) else None
        raise ExportFileError(f"The file uses key derivation {name!r}, which this version does not read.")
    for param, (low, high) in _LIMITS[kdf["name"]].items():
        value = kdf.get(param)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ExportFileError(f"The file's {kdf['name']} parameter {param}={value!r} is out of range.")
    return kdf


@sensitive_variables("passphrase", "body", "derived")
def seal_file(body: bytes, passphrase: str, *, kdf: dict[str, Any] | None = None) -> bytes:
    """The file's bytes: ``body`` encrypted under a key derived from ``passphrase`` with a fresh salt."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ExportFileError(f"Use a passphrase of at least {MIN_PASSPHRASE_LENGTH} characters.")
    kdf = _check_kdf(dict(kdf or ARGON2ID))
    salt, nonce = os.urandom(16), os.urandom(12)
    derived = _derive(passphrase, kdf, salt)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "kdf": {**kdf, "salt": _b64(salt)},
        "cipher": CIPHER,
        "nonce": _b64(nonce),
        "check": _b64(derived[32:]),
    }
    header_line = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii")
    sealed = AESGCM(derived[:32]).encrypt(nonce, body, header_line)
    return header_line + b"\n" + _b64(sealed).encode("ascii") + b"\n"


def read_header(data: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    """The header (not yet authenticated), its exact line, and the sealed body."""
    header_line, newline, rest = data.partition(b"\n")
    try:
        header = json.loads(header_line.decode("ascii")) if newline else None
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ExportFileError("This is not a Latchkey credentials export file.")
    if header.get("version") != VERSION:
        raise ExportFileError(
            f"The file is in export format version {header.get('version')!r}; this Latchkey reads version {VERSION}."
        )
    if header.get("cipher") != CIPHER:
        raise ExportFileError(f"The file uses cipher {header.get('cipher')!r}, which this version does not read.")
    return header, header_line, rest.strip()


@sensitive_variables("passphrase", "derived")
def open_file(data: bytes, passphrase: str) -> bytes:
    """The body of an export file; WrongPassphrase or AlteredFile (both ExportFileError) when it cannot be."""
    header, header_line, sealed_b64 = read_header(data)
    kdf = _check_kdf({k: v for k, v in (header.get("kdf") or {}).items() if k != "salt"})
    salt = _unb64((header.get("kdf") or {}).get("salt"), "salt")
    nonce = _unb64(header.get("nonce"), "nonce")
    check = _unb64(header.get("check"), "check value")
    if len(salt) < 8 or len(nonce) != 12 or len(check) != 32:
        raise AlteredFile("The file's header was altered (salt, nonce or check value has the wrong length).")
    derived = _derive(passphrase, kdf, salt)
    if not hmac.compare_digest(derived[32:], check):
        raise WrongPassphrase("Wrong passphrase (or the file's header was altered): the file cannot be opened with it.")
    try:
        return AESGCM(derived[:32]).decrypt(nonce, _unb64(sealed_b64, "body"), header_line)
    except InvalidTag:
        raise AlteredFile(
            "The file was altered or damaged: it fails authentication, so nothing in it can be trusted."
        ) from None
