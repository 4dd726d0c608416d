"""The SSH key tester: paramiko against the credential's pinned host keys (RejectPolicy), then authenticate."""

from __future__ import annotations

from typing import Any, NoReturn

import paramiko
from django.views.decorators.debug import sensitive_variables
from paramiko.hostkeys import HostKeyEntry

from credentials import outbound
from credentials.door import RevealedSecret
from credentials.redaction import Redactor
from credentials.testers.base import Tester, TestFailed
from credentials.types.schema import SchemaErrors
from credentials.types.ssh import load_private_key


class _RecordingRejectPolicy(paramiko.RejectPolicy):
    """RejectPolicy (an unknown host is refused), remembering the key the server offered so the user can pin it."""

    def __init__(self) -> None:
        self.offered: paramiko.PKey | None = None

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> NoReturn:
        self.offered = key
        super().missing_host_key(client, hostname, key)


def _entries(text: str) -> list[HostKeyEntry]:
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "@")):
            entry = HostKeyEntry.from_line(line)
            if entry is not None and entry.key is not None:
                entries.append(entry)
    return entries


def _target(name: str) -> tuple[str, int]:
    """Where a known_hosts name points: ``[host]:port`` or ``host`` (port 22)."""
    if name.startswith("[") and "]:" in name:
        host, _, port = name[1:].partition("]:")
        return host, int(port)
    return name, 22


def _pin_line(name: str, key: paramiko.PKey) -> str:
    return f"{name} {key.get_name()} {key.get_base64()}"


class SSHKeyTester(Tester):
    """Connects to the first pinned host (its ``[host]:port`` if pinned so), verifies its key, authenticates.

    Only the pinned keys are trusted: no system or user known_hosts file is read, and no agent or
    key file other than the credential's own is offered.
    """

    slug = "ssh_key"
    timeout = 10.0

    @sensitive_variables("secret", "key")
    def check(self, secret: RevealedSecret, redactor: Redactor) -> tuple[str, dict[str, Any]]:
        entries = _entries(secret["host_keys"])
        if not entries:
            raise TestFailed("No host key is pinned on this credential.")
        name = entries[0].hostnames[0]
        host, port = _target(name)
        # The host allowed, then its address judged (credentials.outbound), resolved once.
        destination = secret.destination(host, port)
        try:
            key = load_private_key(secret["private_key"], secret.get("passphrase"))
        except SchemaErrors as exc:
            raise TestFailed(f"The stored key cannot be read: {exc}") from None
        username = secret.get("username") or "git"
        client = paramiko.SSHClient()
        pinned = client.get_host_keys()
        for entry in entries:
            for hostname in entry.hostnames:
                pinned.add(hostname, entry.key.get_name(), entry.key)
                # paramiko looks a port-22 host up by its bare name; "[host]:22" pins the same key.
                if hostname.startswith("[") and hostname.endswith("]:22"):
                    pinned.add(hostname[1:-4], entry.key.get_name(), entry.key)
        policy = _RecordingRejectPolicy()
        client.set_missing_host_key_policy(policy)
        where = f"{host}:{port}"
        sock = None
        try:
            # To the address judged; paramiko still looks the host key up by name ([host]:port).
            sock = outbound.connect(destination, self.timeout)
            client.connect(
                host,
                port=port,
                sock=sock,
                username=username,
                pkey=key,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                allow_agent=False,
                look_for_keys=False,
            )
            server_key = client.get_transport().get_remote_server_key()  # type: ignore[union-attr]  # connected
        except paramiko.BadHostKeyException as exc:
            raise TestFailed(
                f"The server at {where} offered the {exc.key.get_name()} host key {exc.key.fingerprint}, but the "
                f"key pinned for it is {exc.expected_key.fingerprint}. Nothing was sent: this may be a "
                f"man-in-the-middle, or the server's key changed; if you trust it, pin: {_pin_line(name, exc.key)}",
                offered_fingerprint=exc.key.fingerprint,
                offered_key=_pin_line(name, exc.key),
            ) from None
        except paramiko.AuthenticationException:
            raise TestFailed(
                f"The server at {where} (host key verified) refused the key {key.fingerprint} for user {username}."
            ) from None
        except paramiko.SSHException as exc:
            if policy.offered is not None:
                offered = policy.offered
                raise TestFailed(
                    f"The server at {where} offered the {offered.get_name()} host key {offered.fingerprint}, which "
                    f"is not pinned on this credential; nothing was sent. If it is the server's key, pin it: "
                    f"{_pin_line(name, offered)}",
                    offered_fingerprint=offered.fingerprint,
                    offered_key=_pin_line(name, offered),
                ) from None
            raise TestFailed(f"SSH with {where} failed: {exc}") from None
        except TimeoutError:
            raise TestFailed(f"{where} did not answer within {self.timeout:g} s.") from None
        except OSError as exc:
            raise TestFailed(f"Could not connect to {where}: {exc.strerror or exc}") from None
        finally:
            client.close()
            if sock is not None:
                sock.close()
        message = (
            f"Authenticated to {where} as {username} with key {key.fingerprint}; "
            f"its host key {server_key.fingerprint} matched the pinned one."
        )
        return message, {"host_key_fingerprint": server_key.fingerprint, "key_fingerprint": key.fingerprint}
