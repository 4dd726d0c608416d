"""Field patterns run on RE2: time linear in the value, with ceilings on the pattern itself."""

from __future__ import annotations

import re2

# A pattern is written by staff, the value by anyone: Python's backtracking ``re`` would let the two
# together choose an exponential cost ("(a|aa)+" against 16 KiB). RE2 has no backtracking, so no
# backreferences or lookaround either; it runs a DFA, or when that needs too much memory an NFA,
# whose time is the value's length times the program's size. Both are capped: values by their
# field's max_length, programs here. At 2,000 instructions a 16 KiB value takes ~2 ms, measured.
MAX_PATTERN_LENGTH = 1_000
MAX_PROGRAM_SIZE = 2_000  # "." is ~9 instructions (UTF-8): ".{1,200}" is near it
# RE2's memory budget for one pattern (its default is 8 MiB); the re2 module keeps the last 128 used.
_MAX_MEMORY = 4 * 2**20

_HINTS = (
    (
        "invalid escape sequence: \\Z",
        "the match is always of the whole value, so leave the end anchor out (or write \\z)",
    ),
    ("invalid escape sequence: \\", "backreferences (\\1) and other escapes of Python's re are not supported"),
    ("invalid perl operator: (?=", "lookaround is not supported"),
    ("invalid perl operator: (?!", "lookaround is not supported"),
    ("invalid perl operator: (?<", "lookaround is not supported"),
    ("pattern too large", "bound a length with max_length instead of a repetition"),
)


class PatternError(ValueError):
    """A pattern RE2 cannot run, or one over a ceiling; the message completes a sentence that starts "the pattern"."""


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = _MAX_MEMORY
    options.never_capture = True  # a yes/no answer: lets RE2 use its DFA
    options.log_errors = False
    return options


def compile_pattern(pattern: str) -> re2._Regexp:
    """The pattern compiled on RE2; PatternError if it is too long, too large, or not RE2's syntax."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH} characters are accepted.")
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = next((text for start, text in _HINTS if detail.startswith(start)), "")
        raise PatternError(
            f"is not a valid regular expression for RE2, the linear-time engine patterns run on: {detail}"
            + (f"; {hint}." if hint else ".")
        ) from None
    if compiled.programsize > MAX_PROGRAM_SIZE:
        raise PatternError(
            f"is too large: RE2 compiles it to {compiled.programsize} instructions; at most {MAX_PROGRAM_SIZE} are "
            "accepted (bound a length with max_length instead of a repetition)."
        )
    return compiled


def pattern_problem(pattern: str) -> str | None:
    """Why the pattern cannot be a field's (a sentence that follows "'pattern' "), or None."""
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        return str(exc)
    return None


def mismatch(pattern: str, value: str) -> list[str]:
    """The problems of ``value`` against ``pattern`` (matched whole); a pattern RE2 refuses fails every value."""
    try:
        matched = compile_pattern(pattern).fullmatch(value) is not None
    except PatternError as exc:
        # Saved before patterns ran on RE2: fail closed rather than fall back to a backtracking engine.
        return [
            f"This value cannot be checked: the field's pattern {exc} "
            "Ask an administrator to change the credential type."
        ]
    return [] if matched else [f"Enter a value matching the pattern {pattern}."]
