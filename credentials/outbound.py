"""Where outbound connections may go: each host resolved once, every address judged, the connection pinned to it."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from credentials.errors import DestinationRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "OUTBOUND_ALLOWED_NETWORKS"


def _networks(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Refused in every mode, listed or not. Link-local is where cloud metadata services answer
# (169.254.169.254 hands out instance credentials); some clouds put theirs elsewhere too.
# 0.0.0.0 and :: reach the machine itself on Linux; multicast and broadcast are nobody's server.
_ALWAYS_REFUSED: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    (
        "a cloud metadata address",
        _networks("fd00:ec2::254/128", "100.100.100.200/32", "168.63.129.16/32", "192.0.0.192/32"),
    ),
    ("a link-local address", _networks("169.254.0.0/16", "fe80::/10")),
    ("an unspecified address", _networks("0.0.0.0/8", "::/128")),
    ("a multicast or broadcast address", _networks("224.0.0.0/4", "255.255.255.255/32", "ff00::/8")),
)
# Refused unless listed; loopback and private are allowed in the development mode (DEBUG).
_LOOPBACK = ("a loopback address", _networks("127.0.0.0/8", "::1/128"))
_PRIVATE = (
    "a private-network address",
    # RFC 1918, carrier-grade NAT (RFC 6598), unique local IPv6 (RFC 4193), deprecated site-local IPv6.
    _networks("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fec0::/10"),
)
_RESERVED = (
    "a reserved or special-purpose address",
    _networks(
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "240.0.0.0/4", "100::/64", "2001::/23", "2001:db8::/32", "64:ff9b:1::/48", "3fff::/20",
    ),
)  # fmt: skip
# IPv6 outside global unicast (2000::/3) that is none of the above is reserved too.
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
# IPv6 forms that carry an IPv4 address, judged by the address they carry.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

_EVERY_MODE = "such addresses are refused in every mode"
_UNLESS_LISTED = f"such addresses are refused unless an operator lists their network in {SETTING}"


@dataclass(frozen=True)
class Destination:
    """Where one connection goes: ``address``, judged; ``host`` stays the name for Host, TLS and host keys."""

    host: str
    port: int
    address: str

    @property
    def bracketed_address(self) -> str:
        return f"[{self.address}]" if ":" in self.address else self.address


class UnresolvableHost(OSError):
    """The host's name does not resolve; nothing was sent."""


def lookup_addresses(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (one DNS lookup). Tests replace it to play DNS."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnresolvableHost(f"Could not resolve host '{host[:100]}'.") from None
    return [str(sockaddr[0]) for _, _, _, _, sockaddr in answers]


def resolve(host: str, port: int) -> Destination:
    """The one address a connection to ``host`` goes to, after judging every address ``host`` has.

    An IP literal is judged as it is; a name is looked up once, and refused if any of its
    addresses is (a public answer beside a loopback one is how rebinding attacks start).
    Raises DestinationRefused, with the same message whether or not anything listens there:
    nothing has been sent yet. Callers connect to ``address`` and never look ``host`` up again.
    """
    literal = _literal(host)
    if literal is not None:
        _judge(literal, f"{host.strip('[]')} is")
        return Destination(host=host, port=port, address=str(literal))
    addresses = lookup_addresses(host, port)
    if not addresses:
        raise UnresolvableHost(f"Could not resolve host '{host[:100]}'.")
    judged = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text.partition("%")[0])  # a scope (%eth0) is link-local anyway
        except ValueError:
            raise UnresolvableHost(f"Could not resolve host '{host[:100]}'.") from None
        _judge(address, f"'{host[:100]}' resolves to")
        judged.append(address)
    return Destination(host=host, port=port, address=str(judged[0]))


def check_literal(host: str) -> None:
    """Refuse ``host`` now if it is an IP address in a refused range; a name is judged when resolved."""
    literal = _literal(host)
    if literal is not None:
        _judge(literal, f"{host.strip('[]')} is")


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` is an IP address (a client connects to it without looking anything up)."""
    return _literal(host) is not None


class ConnectionFailed(OSError):
    """The address was allowed and judged, but no connection came of it; the message says why in words."""


# What the operating system's error numbers mean to someone testing a credential.
_REASONS = {
    errno.ECONNREFUSED: "nothing accepts connections there (connection refused)",
    errno.EHOSTUNREACH: "the host cannot be reached from here",
    errno.ENETUNREACH: "its network cannot be reached from here",
    errno.ECONNRESET: "the server closed the connection",
    errno.ECONNABORTED: "the connection was aborted",
}


def plain_reason(exc: OSError) -> str:
    """An operating system error in words, without its "[Errno 111]" prefix."""
    if isinstance(exc, socket.gaierror):
        return "the server's name could not be resolved"
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    return (exc.strerror or type(exc).__name__).lower()


def connect(destination: Destination, timeout: float | None) -> socket.socket:
    """A TCP connection to the judged address (no name is looked up here); ConnectionFailed says why not."""
    try:
        return socket.create_connection((destination.address, destination.port), timeout=timeout)
    except TimeoutError:
        raise  # the caller says how long it waited
    except OSError as exc:
        where = f"{destination.host[:100]}:{destination.port}"
        raise ConnectionFailed(exc.errno, f"Could not connect to {where}: {plain_reason(exc)}.") from None


def refusal_reason(address: IPAddress) -> tuple[str, str] | None:
    """Why a connection to ``address`` is refused here and now, as (what it is, the rule); None if allowed."""
    carried = _carried(address)
    for kind, networks in _ALWAYS_REFUSED:
        if _within(carried, networks) or _within(address, networks):
            return kind, _EVERY_MODE
    if _within(carried, _listed()):
        return None
    for kind, networks in (_LOOPBACK, _PRIVATE):
        if _within(carried, networks):
            return None if settings.DEBUG else (kind, _UNLESS_LISTED)
    kind, networks = _RESERVED
    if _within(carried, networks) or (carried.version == 6 and carried not in _GLOBAL_UNICAST_V6):
        return kind, _UNLESS_LISTED
    return None


def parse_networks(entries: Iterable[str]) -> list[str]:
    """The setting's CIDRs, canonical; ImproperlyConfigured naming the entry that is wrong."""
    entries = [entry.strip() for entry in entries if entry.strip()]
    parsed = []
    for position, entry in enumerate(entries, start=1):
        where = f"{SETTING} entry {position} ('{entry[:60]}')"
        try:
            network = ipaddress.ip_network(entry)
        except ValueError as exc:
            loose = _loose_network(entry)
            if loose is not None and "has host bits set" in str(exc):
                raise ImproperlyConfigured(f"{where} has host bits set: did you mean {loose}?") from None
            raise ImproperlyConfigured(
                f"{where} is not a network: write an address or a CIDR such as 10.0.0.0/8 or fd00::/8."
            ) from None
        for kind, networks in _ALWAYS_REFUSED:
            # The version test pairs IPv4 with IPv4 and IPv6 with IPv6, which mypy cannot follow.
            if any(network.version == refused.version and network.subnet_of(refused) for refused in networks):  # type: ignore[arg-type]
                raise ImproperlyConfigured(
                    f"{where} lies within {kind[2:] if kind.startswith('a ') else kind[3:]} space, "
                    f"which is refused in every mode and cannot be listed."
                )
        parsed.append(str(network))
    return parsed


def _loose_network(entry: str) -> str | None:
    try:
        return str(ipaddress.ip_network(entry, strict=False))
    except ValueError:
        return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return None


def _judge(address: IPAddress, subject: str) -> None:
    reason = refusal_reason(address)
    if reason is not None:
        kind, rule = reason
        carried = _carried(address)
        inside = f" (it carries {carried})" if carried != address else ""
        raise DestinationRefused(f"{subject} {kind}{inside}: {rule}.")


def _carried(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 address leads to; else itself."""
    if address.version == 4:
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _within(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def _listed() -> list[IPNetwork]:
    # Validated at start-up (config.settings); a test may set strings or networks.
    return [ipaddress.ip_network(entry, strict=False) for entry in getattr(settings, SETTING, ())]
