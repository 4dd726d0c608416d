"""The caller's address, as every face (pages, admin, API) records it in audit events."""

from __future__ import annotations

from typing import Any


def client_ip(request: Any) -> str | None:
    """REMOTE_ADDR as the server saw it; behind a proxy, the proxy sets it (see the README).

    Takes Django's HttpRequest and DRF's Request alike (both carry META).
    """
    return request.META.get("REMOTE_ADDR") or None
