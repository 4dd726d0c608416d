"""SSH keys: parse a private key with paramiko, and pinned host keys in known_hosts form."""

from __future__ import annotations

import io
from dataclasses import dataclass

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from django.views.decorators.debug import sensitive_variables
from paramiko.hostkeys import HostKeyEntry

from credentials.types.hosts import normalise_host
from credentials.types.key_costs import NOT_A_KEY, UNSUPPORTED_TYPE, check_key_costs, check_rsa_bits
from credentials.types.schema import SchemaErrors

_OPENSSH_HEADER = "-----BEGIN OPENSSH PRIVATE KEY-----"


@dataclass(frozen=True)
class PinnedHostKey:
    hosts: tuple[str, ...]
    key_type: str
    fingerprint: str


@sensitive_variables("text", "passphrase", "data", "password", "loaded")
def _parse_private_key(text: str, passphrase: str | None) -> tuple[PrivateKeyTypes, type[paramiko.PKey]]:
    """The decrypted key and its paramiko class; raise SchemaErrors on ``private_key`` or ``passphrase``.

    Every use of a stored key comes here (validation, the SSH test, git's agent, import). The costs
    the key names (KDF rounds, scrypt memory, RSA size, key type) are held to their ceilings first.
    """
    check_key_costs(text)
    data = text.strip().encode() + b"\n"
    password = passphrase.encode() if passphrase else None
    loader = (
        serialization.load_ssh_private_key
        if text.lstrip().startswith(_OPENSSH_HEADER)
        else serialization.load_pem_private_key
    )
    try:
        # RSA's consistency check (its primes) is the costly part: run below, once the size is known.
        loaded = loader(data, password, unsafe_skip_rsa_key_validation=True)
    except UnsupportedAlgorithm:
        raise SchemaErrors({"private_key": [UNSUPPORTED_TYPE]}) from None
    except TypeError:
        # cryptography says TypeError when a password is missing or superfluous.
        if password:
            raise SchemaErrors({"passphrase": ["This key is not encrypted: leave the passphrase empty."]}) from None
        raise SchemaErrors({"passphrase": ["This key is encrypted: enter its passphrase."]}) from None
    except (ValueError, IndexError):
        if password and _is_encrypted(loader, data):
            raise SchemaErrors({"passphrase": ["The passphrase does not decrypt this key."]}) from None
        raise SchemaErrors({"private_key": [NOT_A_KEY]}) from None
    key_class = _paramiko_class(loaded)
    if key_class is None:
        raise SchemaErrors({"private_key": [UNSUPPORTED_TYPE]})
    if isinstance(loaded, rsa.RSAPrivateKey):
        loaded = _checked_rsa(loaded)
    return loaded, key_class


@sensitive_variables("loaded")
def _checked_rsa(loaded: rsa.RSAPrivateKey) -> rsa.RSAPrivateKey:
    """The RSA key, its size held to the ceiling, then checked as the loader would have (primes and all)."""
    check_rsa_bits(loaded.key_size)
    try:
        return loaded.private_numbers().private_key()
    except ValueError:
        raise SchemaErrors({"private_key": [NOT_A_KEY]}) from None


@sensitive_variables("loaded")
def _openssh_pem(loaded: PrivateKeyTypes) -> bytes:
    return loaded.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )


@sensitive_variables("text", "passphrase", "loaded")
def unlocked_private_key_bytes(text: str, passphrase: str | None) -> bytes:
    """The key decrypted, as unencrypted OpenSSH PEM bytes (for ssh-add on stdin); same errors as load_private_key."""
    loaded, _ = _parse_private_key(text, passphrase)
    return _openssh_pem(loaded)


@sensitive_variables("text", "passphrase", "loaded", "unlocked")
def load_private_key(text: str, passphrase: str | None) -> paramiko.PKey:
    """Parse a private key; raise SchemaErrors on ``private_key`` or ``passphrase``."""
    loaded, key_class = _parse_private_key(text, passphrase)
    if isinstance(loaded, rsa.RSAPrivateKey):
        return paramiko.RSAKey(key=loaded)  # already checked: paramiko's load would check it again
    # Paramiko reads the key already decrypted, in memory: the passphrase's key derivation
    # (bcrypt, deliberately slow) runs once, not twice.
    unlocked = _openssh_pem(loaded)
    return key_class.from_private_key(io.StringIO(unlocked.decode()))


def _is_encrypted(loader, data: bytes) -> bool:
    try:
        loader(data, None, unsafe_skip_rsa_key_validation=True)
    except TypeError:
        return True
    except (ValueError, IndexError, UnsupportedAlgorithm):
        return False
    return False


def _paramiko_class(loaded) -> type[paramiko.PKey] | None:
    if isinstance(loaded, ed25519.Ed25519PrivateKey):
        return paramiko.Ed25519Key
    if isinstance(loaded, ec.EllipticCurvePrivateKey):
        return paramiko.ECDSAKey
    if isinstance(loaded, rsa.RSAPrivateKey):
        return paramiko.RSAKey
    return None


def parse_host_keys(text: str) -> list[PinnedHostKey]:
    """Parse known_hosts lines (``host[,host] key-type base64``); raise SchemaErrors on ``host_keys``."""
    pinned: list[PinnedHostKey] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry = HostKeyEntry.from_line(line) if not line.startswith("@") else None
        if entry is None or entry.key is None:
            problems.append(f"Line {number} is not a known_hosts entry (host key-type base64-key).")
            continue
        try:
            hosts = tuple(_pinned_host(name) for name in entry.hostnames)
        except ValueError as exc:
            problems.append(f"Line {number}: {exc}")
            continue
        pinned.append(PinnedHostKey(hosts, entry.key.get_name(), entry.key.fingerprint))
    if problems:
        raise SchemaErrors({"host_keys": problems})
    return pinned


def _pinned_host(name: str) -> str:
    if name.startswith("|1|"):
        raise ValueError("hashed host names cannot be pinned; write the host name.")
    if name.startswith("!") or "*" in name or "?" in name:
        raise ValueError("patterns cannot be pinned; write the host name.")
    if name.startswith("["):
        # [host]:port, as ssh writes a host on a non-standard port.
        host, _, _port = name[1:].partition("]")
        return normalise_host(host)
    return normalise_host(name)
