"""One signed POST of a delivery's payload: Standard Webhooks headers, to the judged address, no redirect followed."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from standardwebhooks.webhooks import Webhook

from credentials import outbound
from credentials.errors import DestinationRefused
from credentials.pinned_http import pinned_connection

USER_AGENT = "Latchkey-webhooks/1"
# An answer is read only for its status; a receiver's body is never kept.
MAX_ANSWER = 4096


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(payload: dict) -> str:
    """The exact text signed and sent."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


@sensitive_variables("secret")
def signed_headers(secret: str, message_id: str, body: str, now: datetime | None = None) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature, signed by the standardwebhooks library."""
    moment = now or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, moment, body),
    }


@sensitive_variables("secret")
def post(url: str, secret: str, message_id: str, body: str) -> Answer:
    """POST ``body`` to ``url`` signed with ``secret``; the answer's status code, or what went wrong, in words."""
    started = time.monotonic()
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        destination = outbound.resolve(parts.hostname or "", port)
    except (DestinationRefused, outbound.UnresolvableHost) as exc:
        return Answer(None, str(exc)[:300], _since(started))
    connection = pinned_connection(parts.scheme, destination, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signed_headers(secret, message_id, body),
    }
    try:
        connection.request("POST", target, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read(MAX_ANSWER)
        status = response.status
    except TimeoutError:
        return Answer(None, f"No answer within {settings.WEBHOOK_TIMEOUT_SECONDS} s.", _since(started))
    except ssl.SSLError as exc:
        return Answer(None, f"TLS failed: {exc.reason or type(exc).__name__}"[:300], _since(started))
    except outbound.ConnectionFailed as exc:
        return Answer(None, str(exc)[:300], _since(started))
    except OSError as exc:
        return Answer(None, outbound.plain_reason(exc)[:300], _since(started))
    except http.client.HTTPException as exc:
        return Answer(None, f"The answer was not HTTP ({type(exc).__name__}).", _since(started))
    finally:
        connection.close()
    if 300 <= status < 400:
        return Answer(status, "Redirects are not followed: give the endpoint's final URL.", _since(started))
    return Answer(status, "" if 200 <= status < 300 else f"The endpoint answered {status}.", _since(started))


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
