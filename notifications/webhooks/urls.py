"""Whether a webhook URL may be stored: http(s), a host, no user information, and no address refused outright.

A name is judged again when each delivery resolves it (credentials.outbound), so a name that later
points at a refused address is refused then; an IP address is judged here too, to say so at once.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from credentials import outbound
from credentials.errors import DestinationRefused

MAX_URL = 2000


def url_errors(url: str) -> list[str]:
    """What is wrong with ``url`` as a webhook's address; empty if it may be stored."""
    if len(url) > MAX_URL:
        return [f"Use at most {MAX_URL} characters."]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ["Enter a URL such as https://hooks.example.com/latchkey."]
    schemes = ("https",) if settings.WEBHOOK_REQUIRE_HTTPS else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname:
        return ["Enter an https:// URL." if settings.WEBHOOK_REQUIRE_HTTPS else "Enter an http:// or https:// URL."]
    if parts.username is not None or parts.password is not None:
        return ["Put no user name or password in the URL: each delivery is signed instead."]
    if parts.fragment:
        return ["A URL with a #fragment cannot be delivered to."]
    if port == 0:
        return ["The port must be between 1 and 65535."]
    try:
        outbound.check_literal(parts.hostname)
    except DestinationRefused as exc:
        return [str(exc)]
    return []
