"""The per-operation redactor (ARCHITECTURE.md, invariant 8): hides the secrets in use from text from outside."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from django.views.decorators.debug import sensitive_variables

MASK = "***"


@sensitive_variables("value", "raw")
def _forms(value: str) -> set[str]:
    """Every way a value commonly reappears in text: as is, URL-encoded, and base64 (padded or not)."""
    # surrogatepass: a value that is not valid UTF-8 still gets its forms, rather than an exception.
    raw = value.encode("utf-8", "surrogatepass")
    forms = {value, quote(raw, safe=""), quote_plus(raw), quote(raw)}
    # Percent escapes may come back in either case (%2F or %2f).
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), form) for form in list(forms)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode()
        forms |= {text, text.rstrip("=")}
    return {form for form in forms if form}


class Redactor:
    """Replaces every form of the secrets it was given by ``***``.

    One is made for each operation (a test, a clone), holding that operation's secrets only,
    and dropped with it: there is no process-wide list growing with every secret ever loaded.
    Derived values that are sent (a basic-auth header's ``user:password``) are added too.
    """

    __slots__ = ("_pattern", "_values")

    def __init__(self, secrets: Iterable[str] = ()):
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._values)} value(s)>"

    @sensitive_variables("secret")
    def add(self, secret: str | None) -> None:
        if not secret or not isinstance(secret, str):
            return
        self._values |= _forms(secret)
        self._pattern = None  # compiled again on next use, once per operation in practice

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: object) -> str:
        """``text`` as a string, every form of every secret replaced; longest first, so no tail survives."""
        text = str(text)
        if not self._values:
            return text
        if self._pattern is None:
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(value) for value in ordered))
        return self._pattern.sub(MASK, text)

    def shorten(self, text: object, limit: int = 1000) -> str:
        """Redacted, then cut to ``limit`` characters: cutting first could keep half a secret."""
        redacted = self.redact(text)
        return redacted if len(redacted) <= limit else redacted[: limit - 1] + "…"
