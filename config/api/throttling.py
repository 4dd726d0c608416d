"""Throttles that count requests by the one client address (config.addresses), never by a header the client wrote."""

from __future__ import annotations

from typing import Any

from rest_framework import throttling

from config.addresses import client_ip


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's scoped throttle, keyed on ``client_ip``.

    DRF's own ``get_ident`` keys on the whole ``X-Forwarded-For`` header when ``NUM_PROXIES`` is
    unset, so a client that invents a new header each time gets a new bucket each time.
    """

    def get_ident(self, request: Any) -> str:
        return client_ip(request) or ""
