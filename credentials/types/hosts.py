"""Host names: the destinations a credential may be sent to (ARCHITECTURE.md, invariant 9)."""

import ipaddress
import re
from urllib.parse import urlsplit

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


def normalise_host(value: str) -> str:
    """Lower-case a host name or IP address; raise ValueError for anything else."""
    host = value.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or len(host) > 253 or not _HOSTNAME.match(host):
        raise ValueError(f"'{value.strip()[:100]}' is not a host name or IP address.")
    return host


def url_host(url: str) -> str:
    """The host of an http(s) URL, normalised; raise ValueError if there is none."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Enter an http:// or https:// URL with a host.")
    if parts.username or parts.password:
        # A secret in a URL ends up in logs and process lists; there is a field for it.
        raise ValueError("Do not put a user name or password in the URL.")
    return normalise_host(parts.hostname)
