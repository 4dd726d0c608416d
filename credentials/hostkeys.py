"""SSH host keys to pin: fetched from a server through the outbound policy, or GitHub's and GitLab's published keys."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import paramiko

from config.actors import Actor
from credentials import outbound
from credentials.errors import DestinationRefused
from credentials.types.hosts import normalise_host

# Ceilings on what one request may cost us (DESIGN invariant 12): the host's length, the handshakes
# (one per key type), and the time all of them may take together.
MAX_HOST_LENGTH = 253
TOTAL_SECONDS = 15.0
HANDSHAKE_SECONDS = 5.0
# One handshake per group: a server offers one host key per handshake, the first of ours it also has.
# RSA's signature names (rsa-sha2-512, rsa-sha2-256) carry the same key; paramiko no longer speaks SHA-1's ssh-rsa.
KEY_TYPE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("ssh-ed25519",),
    ("ecdsa-sha2-nistp256",),
    ("ecdsa-sha2-nistp384",),
    ("ecdsa-sha2-nistp521",),
    ("rsa-sha2-512", "rsa-sha2-256"),
)


@dataclass(frozen=True)
class OfferedHostKey:
    """One host key: ``line`` in known_hosts form, its type, its SHA256 fingerprint (as ``ssh-keygen -lf`` prints)."""

    line: str
    key_type: str
    fingerprint: str


@dataclass(frozen=True)
class HostKeyPreset:
    """A host's published keys, and where they are published."""

    host: str
    source: str
    keys: tuple[OfferedHostKey, ...]


class HostKeyFetchFailed(Exception):
    """Nothing to pin: the input is wrong (``field`` names it), the policy refused it, or no SSH server answered."""

    def __init__(self, message: str, *, field: str = "host"):
        super().__init__(message)
        self.field = field


def known_hosts_name(host: str, port: int) -> str:
    """How known_hosts names a server: ``host`` on port 22, ``[host]:port`` elsewhere."""
    return host if port == 22 else f"[{host}]:{port}"


def offered_key(name: str, key: paramiko.PKey) -> OfferedHostKey:
    return OfferedHostKey(
        line=f"{name} {key.get_name()} {key.get_base64()}", key_type=key.get_name(), fingerprint=key.fingerprint
    )


def _preset(host: str, source: str, lines: tuple[str, ...]) -> HostKeyPreset:
    keys = []
    for line in lines:
        name, key_type, data = line.split()
        keys.append(offered_key(name, paramiko.PKey.from_type_string(key_type, base64.b64decode(data))))
    return HostKeyPreset(host=host, source=source, keys=tuple(keys))


# As GitHub and GitLab publish them; tests/credentials/test_hostkeys.py checks each fingerprint
# against the one published beside it.
PRESETS: tuple[HostKeyPreset, ...] = (
    _preset(
        "github.com",
        "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/githubs-ssh-key-fingerprints",
        (
            "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
            "github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=",  # noqa: E501
            "github.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCj7ndNxQowgcQnjshcLrqPEiiphnt+VTTvDP6mHBL9j1aNUkY4Ue1gvwnGLVlOhGeYrnZaMgRK6+PKCUXaDbC7qtbW8gIkhL7aGCsOr/C56SJMy/BCZfxd1nWzAOxSDPgVsmerOBYfNqltV9/hWCqBywINIR+5dIg6JTJ72pcEpEjcYgXkE2YEFXV1JHnsKgbLWNlhScqb2UmyRkQyytRLtL+38TGxkxCflmO+5Z8CSSNY7GidjMIZ7Q4zMjA2n1nGrlTDkzwDCsw+wqFPGQA179cnfGWOWRVruj16z6XyvxvjJwbz0wQZ75XK5tKSb7FNyeIEs4TT4jk+S4dhPeAUC5y+bDYirYgM4GC7uEnztnZyaVWQ7B381AK4Qdrwt51ZqExKbQpTUNn+EjqoTwvqNj4kqx5QUCI0ThS/YkOxJCXmPUWZbhjpCg56i+2aB6CmK2JGhn57K5mj0MNdBXA4/WnwH6XoPWJzK5Nyu2zB3nAZp+S5hpQs+p1vN1/wsjk=",  # noqa: E501
        ),
    ),
    _preset(
        "gitlab.com",
        "https://docs.gitlab.com/user/gitlab_com/#ssh-known_hosts-entries",
        (
            "gitlab.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAfuCHKVTjquxvt6CM6tdG4SLp1Btn/nOeHHE5UOzRdf",
            "gitlab.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFSMqzJeV9rUzU4kWitGjeR4PWSa29SPqJ1fVkhtj3Hw9xjLVXVYrU9QlYWrOLXBpQ6KWjbjTDTdDkoohFzgbEY=",  # noqa: E501
            "gitlab.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCsj2bNKTBSpIYDEGk9KxsGh3mySTRgMtXL583qmBpzeQ+jqCMRgBqB98u3z++J1sKlXHWfM9dyhSevkMwSbhoR8XIq/U0tCNyokEi/ueaBMCvbcTHhO7FcwzY92WK4Yt0aGROY5qX2UKSeOvuP4D6TPqKF1onrSzH9bx9XUf2lEdWT/ia1NEKjunUqu1xOB/StKDHMoX4/OKyIzuS0q/T1zOATthvasJFoPrAjkohTyaDUz2LN5JoH839hViyEG82yB+MjcFV5MU3N1l1QL3cVUCh93xSaua1N85qivl+siMkPGbO5xR/En4iEY6K2XPASUEMaieWVNTRCtJ4S8H+9",  # noqa: E501
        ),
    ),
)  # fmt: skip


def _checked_target(host: str, port: int) -> tuple[str, int]:
    if not isinstance(host, str) or not host.strip():
        raise HostKeyFetchFailed("Enter a host name or IP address.")
    if len(host) > MAX_HOST_LENGTH:
        raise HostKeyFetchFailed(f"A host name has at most {MAX_HOST_LENGTH} characters.")
    try:
        name = normalise_host(host)
    except ValueError as exc:
        raise HostKeyFetchFailed(str(exc)) from None
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise HostKeyFetchFailed("Enter a port from 1 to 65535.", field="port")
    return name, port


def fetch_host_keys(*, actor: Actor, host: str, port: int = 22) -> list[OfferedHostKey]:
    """Every host key the SSH server at ``host:port`` offers, one handshake per key type; nothing is pinned here.

    The host is resolved and judged once by the outbound policy, and every handshake goes to that
    address. No handshake authenticates: no user name, key or secret is ever sent. The user pins
    what they confirm, by its fingerprint.
    """
    if not actor.is_active:
        raise HostKeyFetchFailed("Sign in first.", field="non_field_errors")
    name, port = _checked_target(host, port)
    where = f"{name}:{port}"
    try:
        destination = outbound.resolve(name, port)
    except DestinationRefused as exc:
        raise HostKeyFetchFailed(f"Refused before connecting: {exc}") from None
    except outbound.UnresolvableHost as exc:
        raise HostKeyFetchFailed(str(exc)) from None
    deadline = time.monotonic() + TOTAL_SECONDS
    offered: list[OfferedHostKey] = []
    last_problem = ""
    for group in KEY_TYPE_GROUPS:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if offered:
                break  # what the server offered so far stands; the rest took too long
            raise HostKeyFetchFailed(f"{where} did not complete an SSH handshake within {TOTAL_SECONDS:g} s.")
        try:
            key = _handshake(destination, group, min(HANDSHAKE_SECONDS, remaining))
        except TimeoutError:
            if not offered and group == KEY_TYPE_GROUPS[0]:
                raise HostKeyFetchFailed(f"{where} did not answer within {HANDSHAKE_SECONDS:g} s.") from None
            last_problem = "timeout"
            continue
        except OSError as exc:
            raise HostKeyFetchFailed(f"Could not connect to {where}: {exc.strerror or exc}") from None
        except (paramiko.SSHException, EOFError) as exc:
            last_problem = str(exc)[:200]  # this key type is not offered, or the peer speaks no SSH
            continue
        if key is not None and all(k.fingerprint != key.fingerprint for k in offered):
            offered.append(offered_key(known_hosts_name(name, port), key))
    if not offered:
        detail = f" ({last_problem})" if last_problem and last_problem != "timeout" else ""
        raise HostKeyFetchFailed(f"{where} offered no host key of a type we can verify{detail}.")
    return offered


def _handshake(destination: outbound.Destination, key_types: tuple[str, ...], timeout: float) -> paramiko.PKey | None:
    """The host key the server proves it holds in one key exchange limited to ``key_types``; no authentication."""
    sock = outbound.connect(destination, timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.get_security_options().key_types = key_types
        transport.start_client(timeout=timeout)
        if not transport.is_active() or transport.host_key is None:
            raise TimeoutError
        return transport.get_remote_server_key()
    finally:
        transport.close()
        sock.close()
