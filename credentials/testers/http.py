"""HTTP for testers: one request to an allowed host, no redirects followed, a bounded answer."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.views.decorators.debug import sensitive_variables

from credentials.door import RevealedSecret
from credentials.pinned_http import pinned_connection
from credentials.redaction import Redactor
from credentials.testers.base import TestFailed

USER_AGENT = "Latchkey-credential-test/1"
# Enough for a user object or an error; a test never needs a large answer.
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def summary(self) -> str:
        """The status, and the remote's own error message when it gives one (redacted by the caller)."""
        text = f"{self.status} {self.reason}".strip()
        data = self.json()
        if isinstance(data, dict):
            for key in ("message", "error_description", "error", "detail"):
                if isinstance(data.get(key), str):
                    return f"{text}: {data[key][:300]}"
        return text


def join(base_url: str, path: str) -> str:
    """The base URL (which may carry a path, as GitHub Enterprise's /api/v3 does) and a path under it."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


@sensitive_variables("headers", "secret")
def request(
    secret: RevealedSecret,
    url: str,
    *,
    headers: Mapping[str, str],
    redactor: Redactor,
    timeout: float,
    method: str = "GET",
) -> Answer:
    """Send one request, after checking that the URL's host is one the credential may be sent to.

    Redirects are answers, not followed: following one could carry the secret to another host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TestFailed(f"'{redactor.shorten(url, 200)}' is not an http:// or https:// URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TestFailed("The URL's port is not a number.") from None
    # The host allowed, then its address judged (credentials.outbound): the one the connection goes to.
    destination = secret.destination(parts.hostname, port)
    connection = pinned_connection(parts.scheme, destination, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, target, headers={"User-Agent": USER_AGENT, "Accept": "application/json", **headers})
        response = connection.getresponse()
        body = response.read(MAX_BODY)
        answer = Answer(response.status, response.reason, {k.lower(): v for k, v in response.getheaders()}, body)
    except ssl.SSLError as exc:
        raise TestFailed(f"TLS with {parts.hostname} failed: {exc.reason or exc}") from None
    except (http.client.HTTPException, ConnectionError) as exc:
        raise TestFailed(f"{parts.hostname} did not answer over HTTP: {type(exc).__name__} {exc}") from None
    finally:
        connection.close()
    if 300 <= answer.status < 400:
        location = answer.headers.get("location", "")
        raise TestFailed(
            f"{parts.hostname} answered {answer.status} redirecting to {location[:200] or 'nowhere'}; "
            "redirects are not followed, so that the secret goes only to its allowed hosts."
        )
    return answer
