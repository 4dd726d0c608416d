"""Helpers for the outbound address policy's tests: a resolver the test controls, a socket that counts visitors."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.factories import host_key_line, ssh_keypair


class FakeDNS:
    """Answers for the names a test chooses, in turn (the last answer repeats); others go to the real resolver.

    ``calls`` records every name looked up, so a test can prove a host was resolved once.
    """

    def __init__(self, real, answers: dict[str, Sequence[Sequence[str]]]):
        self._real = real
        self._answers = {name: [list(answer) for answer in sequence] for name, sequence in answers.items()}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self._answers:
            return self._real(host, port)
        sequence = self._answers[host]
        return sequence.pop(0) if len(sequence) > 1 else sequence[0]


def install_fake_dns(monkeypatch, answers: dict[str, Sequence[Sequence[str]]]) -> FakeDNS:
    """``install_fake_dns(monkeypatch, {"name": [["first answer"], ["later answer"]]})``: the policy's resolver."""
    from credentials import outbound

    resolver = FakeDNS(outbound.lookup_addresses, answers)
    monkeypatch.setattr(outbound, "lookup_addresses", resolver)
    return resolver


@dataclass
class Listener:
    port: int
    address: str
    connections: list[tuple[str, int]] = field(default_factory=list)


@contextlib.contextmanager
def recording_listener(address: str = "127.0.0.1") -> Iterator[Listener]:
    """A TCP socket on ``address`` that records every connection and closes it at once."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind((address, 0))
    server.listen(16)
    server.settimeout(0.1)
    listener = Listener(port=server.getsockname()[1], address=address)
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                connection, peer = server.accept()
            except OSError:
                continue
            listener.connections.append(peer[:2])
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        stopping.set()
        thread.join()
        server.close()


def fields_aimed_at(type_slug: str, host: str, port: int, secret: str) -> dict[str, Any]:
    """Fields of a credential of ``type_slug`` aimed at ``host``:``port`` (an IPv6 address bracketed in URLs)."""
    wrapped = f"[{host}]" if ":" in host else host
    private, _ = ssh_keypair("")
    return {
        "http_bearer": {"base_url": f"http://{wrapped}:{port}", "token": secret, "test_path": "/check/bearer"},
        "postgres": {
            "host": host, "port": port, "database": "app", "username": "app", "password": secret, "sslmode": "disable",
        },
        "redis": {"host": host, "port": port, "password": secret},
        "ssh_key": {
            "username": "git", "private_key": private, "passphrase": "", "host_keys": host_key_line(f"[{host}]:{port}"),
        },
    }[type_slug]  # fmt: skip
