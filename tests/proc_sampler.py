"""A sampler of every process's /proc/*/cmdline while a block runs, to prove no secret is in an argument list."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tests.canary import forms_of  # plain, URL-encoded and base64 forms


@dataclass
class _Seen:
    cmdline: str
    environ_names: frozenset[str] = field(default_factory=frozenset)
    environ: str = ""  # kept only for processes the caller asked about, to search, never to print


class ProcSampler:
    """Reads /proc/*/cmdline of every process, pass after pass, in a background thread while the block runs.

    ``watch_environ(cmdline)`` says which processes' environments to read too (``/proc/<pid>/environ``,
    readable by their owner): a test can then check what git was given. Nothing read is printed.
    """

    def __init__(self, watch_environ: Callable[[str], bool] | None = None):
        self._watch = watch_environ or (lambda cmdline: False)
        self._seen: dict[tuple[int, str], _Seen] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._own = os.getpid()
        self.passes = 0

    def __enter__(self) -> ProcSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self.passes += 1
            # A short pause between passes, so the sampler does not starve the processes it watches.
            self._stop.wait(0.001)

    def _sample(self) -> None:
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    raw = handle.read()
            except OSError:  # gone meanwhile, or not ours to read
                continue
            cmdline = raw.replace(b"\0", b" ").decode(errors="replace").strip()
            if not cmdline or (pid, cmdline) in self._seen:
                continue
            seen = _Seen(cmdline)
            if self._watch(cmdline):
                seen.environ, seen.environ_names = _environ(pid)
            self._seen[(pid, cmdline)] = seen

    # --- what was seen --------------------------------------------------------------------------------

    @property
    def processes(self) -> int:
        """How many distinct processes (pid and command line) were seen."""
        return len(self._seen)

    def cmdlines(self) -> list[str]:
        return [seen.cmdline for seen in self._seen.values()]

    def saw(self, fragment: str) -> int:
        """How many processes had ``fragment`` in their command line."""
        return sum(fragment in seen.cmdline for seen in self._seen.values())

    def occurrences(self, secrets: Iterable[str]) -> int:
        """How many times any form of any of ``secrets`` appeared in a command line."""
        needles = set().union(*(forms_of(s) for s in secrets if s))
        return sum(seen.cmdline.count(needle) for seen in self._seen.values() for needle in needles)

    def environments(self) -> list[frozenset[str]]:
        """The variable names of each watched process's environment."""
        return [seen.environ_names for seen in self._seen.values() if seen.environ_names]

    def environ_occurrences(self, secrets: Iterable[str]) -> int:
        """How many times any form of any of ``secrets`` appeared in a watched process's environment."""
        needles = set().union(*(forms_of(s) for s in secrets if s))
        return sum(seen.environ.count(needle) for seen in self._seen.values() for needle in needles)


def _environ(pid: int) -> tuple[str, frozenset[str]]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            raw = handle.read().decode(errors="replace")
    except OSError:
        return "", frozenset()
    names = frozenset(entry.partition("=")[0] for entry in raw.split("\0") if entry)
    return raw, names
