"""HTTP connections pinned to the address outbound.resolve judged: a second lookup of the name never happens."""

from __future__ import annotations

import http.client
import socket
import ssl

from credentials import outbound


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address judged, never to a second lookup of the name (DNS rebinding).

    The name stays the connection's host: it is the Host header, and over TLS the name sent (SNI)
    and the one the certificate is checked against.
    """

    destination: outbound.Destination | None = None

    def connect(self) -> None:
        if self.destination is None:
            raise RuntimeError("a pinned connection needs its destination")
        self.sock = outbound.connect(self.destination, self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PinnedHTTPSConnection(http.client.HTTPSConnection, PinnedHTTPConnection):
    """TLS over PinnedHTTPConnection's socket: HTTPSConnection.connect wraps what its parent's made."""


def pinned_connection(scheme: str, destination: outbound.Destination, *, timeout: float) -> PinnedHTTPConnection:
    """An unopened connection to ``destination`` (from outbound.resolve) over http or https."""
    connection: PinnedHTTPConnection
    if scheme == "https":
        connection = PinnedHTTPSConnection(
            destination.host, destination.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = PinnedHTTPConnection(destination.host, destination.port, timeout=timeout)
    connection.destination = destination
    return connection
