"""Lists of 32-byte keys from the environment (FERNET_KEYS, AUDIT_KEYS): what is wrong with one, by position."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence


def key_list_problems(raw_keys: Sequence[str], *, setting: str, kind: str) -> list[str]:
    """Each problem names a 1-based position in ``setting``, never a value: a message may reach a log."""
    problems = []
    seen: dict[bytes, int] = {}
    total = len(raw_keys)
    for position, raw in enumerate(raw_keys, start=1):
        try:
            decoded = base64.urlsafe_b64decode(raw.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            decoded = b""
        if len(decoded) != 32:
            problems.append(
                f"{setting} entry {position} of {total} is not a valid {kind} "
                "(32 bytes, URL-safe base64: 44 characters ending in '=')."
            )
        elif decoded in seen:
            problems.append(f"{setting} entry {position} of {total} repeats entry {seen[decoded]}.")
        else:
            seen[decoded] = position
    return problems
