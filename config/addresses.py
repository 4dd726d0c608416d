"""The caller's address: one answer for throttling (DRF), lockout (django-axes) and audit events.

``TRUSTED_PROXY_COUNT`` says how many proxies in front of us append to ``X-Forwarded-For``.
At 0 (the default) the header is ignored and the address is the connection's. At N, the
address is the Nth entry from the right of the header: the proxies wrote the last N entries,
and whatever stands left of them came from the client and is never read. A header the
proxies cannot have written (too few entries, or one of theirs not an address) is refused, and
the connection's address stands in.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def _address(text: str) -> str | None:
    """One spelling per address (so that ``2001:DB8::1`` and ``2001:db8::1`` share a bucket), or None."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(request: Any) -> str | None:
    """The client's address, as every face records it and every limit counts it.

    Takes Django's HttpRequest and DRF's Request alike (both carry META). django-axes calls it
    too (``AXES_CLIENT_IP_CALLABLE``), and the API's throttles use it as their identity.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(hops) < proxies:
        return remote
    written = [_address(hop) for hop in hops[-proxies:]]  # by our proxies, the client's address first
    if None in written:
        return remote
    return written[0]
