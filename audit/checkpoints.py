"""Signed checkpoints of the audit chain, written outside the database, and read back for verification.

A checkpoint names the chain's newest link (its place, event and chain MAC, which is the count of
linked events), when it was taken, and carries its own MAC. Shipped off the machine, it pins
the trail as it was: a database rebuilt after it, even by someone holding the audit key, or cut
short, no longer matches it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from logging.handlers import SysLogHandler
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit.keys import get_audit_keys
from audit.models import AuditLink
from audit.sealing import GENESIS_MAC, audit_seal

MARK = "latchkey-audit-checkpoint"
_DOMAIN = b"latchkey audit checkpoint v1\n"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    event_id: int | None
    chain_mac: str
    at: str
    key_id: str
    mac: str
    line: int = 0

    @property
    def content(self) -> dict[str, Any]:
        return {"v": 1, "seq": self.seq, "event": self.event_id, "chain_mac": self.chain_mac, "at": self.at}

    def as_line(self) -> str:
        return f"{MARK} {_canonical({**self.content, 'key_id': self.key_id, 'mac': self.mac})}"

    def verifies(self) -> bool:
        return get_audit_keys().verify(self.key_id, _DOMAIN + _canonical(self.content).encode(), self.mac)


def _canonical(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def audit_checkpoint(*, sink: str | None = None, now: datetime | None = None) -> Checkpoint:
    """Seal what is committed, then write a checkpoint of the chain's head to ``sink`` (AUDIT_CHECKPOINT_SINK)."""
    audit_seal()
    head = AuditLink.objects.order_by("-seq").values_list("seq", "event_id", "chain_mac").first()
    seq, event_id, chain_mac = head if head is not None else (0, None, GENESIS_MAC)
    at = (now or timezone.now()).isoformat()
    content = {"v": 1, "seq": seq, "event": event_id, "chain_mac": chain_mac, "at": at}
    key_id, mac = get_audit_keys().sign(_DOMAIN + _canonical(content).encode())
    checkpoint = Checkpoint(seq=seq, event_id=event_id, chain_mac=chain_mac, at=at, key_id=key_id, mac=mac)
    write_line(checkpoint.as_line(), sink or settings.AUDIT_CHECKPOINT_SINK)
    return checkpoint


def write_line(line: str, sink: str) -> None:
    """``stdout`` (a log shipper's), ``syslog`` (``/dev/log``), ``syslog:PATH`` (a local socket),
    ``syslog:HOST:PORT`` (UDP), or a file path (``file:PATH`` or a plain path) appended to and synced."""
    if sink == "stdout":
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    elif sink == "syslog" or sink.startswith("syslog:"):
        _syslog(line, sink.removeprefix("syslog").removeprefix(":") or "/dev/log")
    else:
        path = Path(sink.removeprefix("file:"))
        # O_APPEND: every line lands at the end, even with several writers; never rewritten.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)


def _syslog(line: str, where: str) -> None:
    host, _, port = where.rpartition(":")
    address: str | tuple[str, int] = (host, int(port)) if host and port.isdigit() else where
    handler = SysLogHandler(address=address, facility=SysLogHandler.LOG_AUTHPRIV)
    try:
        # WARNING maps to syslog's warning priority: a checkpoint must not be filtered out as chatter.
        handler.emit(logging.LogRecord("latchkey.audit", logging.WARNING, __file__, 0, "latchkey: %s", (line,), None))
    finally:
        handler.close()


def read_checkpoints(text: str) -> tuple[list[Checkpoint], list[tuple[int, str]]]:
    """The checkpoints in ``text`` (a file, a syslog or journal export: the mark may follow a prefix),
    and the lines that hold the mark but cannot be read, with their numbers."""
    found: list[Checkpoint] = []
    unreadable: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        _, mark, rest = line.partition(MARK + " ")
        if not mark:
            continue
        try:
            # raw_decode: whatever a log system puts after the checkpoint (syslog's NUL) is not ours.
            data, _ = json.JSONDecoder().raw_decode(rest.strip())
            found.append(
                Checkpoint(
                    seq=int(data["seq"]),
                    event_id=data["event"],
                    chain_mac=str(data["chain_mac"]),
                    at=str(data["at"]),
                    key_id=str(data["key_id"]),
                    mac=str(data["mac"]),
                    line=number,
                )
            )
        except (ValueError, KeyError, TypeError):
            unreadable.append((number, "it is not a checkpoint this version wrote"))
    return found, unreadable
