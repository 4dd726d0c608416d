"""Real servers on loopback for the notification tests: SMTP (aiosmtpd), and a webhook receiver that verifies."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.integration.servers import free_port


@dataclass
class Mailbox:
    """Every message the SMTP server accepted, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler interface
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def bodies(self, message: EmailMessage) -> tuple[str, str]:
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        return (text.get_content() if text else "", html.get_content() if html else "")


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


@dataclass
class Receiver:
    """A receiver: answers ``fail_first`` requests with 500, then 200; verifies each signature with the library."""

    secret: str = ""
    fail_first: int = 0
    requests: list[dict] = field(default_factory=list)  # every request: headers, body, verified
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verified(self) -> list[dict]:
        return [r for r in self.requests if r["verified"]]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                payload = Webhook(receiver.secret).verify(body, headers) if receiver.secret else None
                verified = payload is not None
            except WebhookVerificationError:
                payload, verified = None, False
            with receiver.lock:
                receiver.requests.append({"headers": headers, "body": body, "payload": payload, "verified": verified})
                failing = len(receiver.requests) <= receiver.fail_first
            self.send_response(500 if failing or not verified else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def webhook_receiver(receiver: Receiver) -> Iterator[str]:
    """Serve ``receiver`` on loopback; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/latchkey"
    finally:
        server.shutdown()
        server.server_close()
