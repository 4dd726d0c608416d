"""Verifying the audit trail: every event's MAC, the keyed chain of links, and checkpoints kept outside.

The walk is one SQL statement, so it reads one consistent snapshot: events appended or linked
while it runs are simply not in it, and raise no alarm.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.checkpoints import Checkpoint
from audit.content import columns_disagree, mac_message, normalise_ip
from audit.keys import get_audit_keys
from audit.sealing import GENESIS_MAC, link_mac

# Links in chain order, then the events not yet linked; each row a link, an event, or both.
_WALK_SQL = """
SELECT l.seq, l.event_id, l.event_mac, l.chain_mac, l.key_id,
       e.id, e.uid, e.created_at, e.action, e.actor_repr, e.credential_ref, e.credential_name,
       CAST(e.ip AS TEXT), e.service, CAST(e.fields AS TEXT), CAST(e.details AS TEXT), e.body, e.mac, e.key_id
FROM audit_auditlink l FULL OUTER JOIN audit_auditevent e ON e.id = l.event_id
ORDER BY CASE WHEN l.seq IS NULL THEN 1 ELSE 0 END, l.seq, e.id
"""
_COLUMNS = (
    "seq", "link_event_id", "event_mac", "chain_mac", "link_key_id",
    "id", "uid", "created_at", "action", "actor_repr", "credential_ref", "credential_name",
    "ip", "service", "fields_json", "details_json", "body", "mac", "key_id",
)  # fmt: skip


@dataclass(frozen=True)
class Break:
    """One place where the trail is not what was recorded: an event, a link or a checkpoint."""

    where: str
    reason: str
    event_id: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ChainReport:
    checked: int = 0
    linked: int = 0
    unlinked: int = 0
    checkpoints: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first(self) -> Break | None:
        return self.breaks[0] if self.breaks else None


class _Stop(Exception):
    pass


def audit_verify_chain(
    *,
    checkpoints: Iterable[Checkpoint] = (),
    find_all: bool = False,
    now: datetime | None = None,
    batch_size: int = 2000,
) -> ChainReport:
    """Check every event and link; return the first break, or with ``find_all`` every one.

    An event not yet linked is fine while it is younger than AUDIT_LINK_MAX_AGE (the sealer runs
    every AUDIT_SEAL_SECONDS); an older one means the sealer is not running, or the event was
    written behind the trail's back.
    """
    report = ChainReport()
    walk = _Walk(report, list(checkpoints), find_all, now or timezone.now())
    try:
        walk.check_checkpoint_macs()
        with transaction.atomic(), connection.chunked_cursor() as cursor:
            cursor.execute(_WALK_SQL)
            while rows := cursor.fetchmany(batch_size):
                for row in rows:
                    walk.row(dict(zip(_COLUMNS, row, strict=True)))
        walk.finish()
    except _Stop:
        pass
    return report


class _Walk:
    def __init__(self, report: ChainReport, checkpoints: list[Checkpoint], find_all: bool, now: datetime):
        self.report = report
        self.find_all = find_all
        self.keys = get_audit_keys()
        self.oldest_unlinked = now - timedelta(seconds=settings.AUDIT_LINK_MAX_AGE)
        self.checkpoints: dict[int, list[Checkpoint]] = {}
        for checkpoint in checkpoints:
            self.checkpoints.setdefault(checkpoint.seq, []).append(checkpoint)
        report.checkpoints = len(checkpoints)
        self.prev = GENESIS_MAC
        self.expected_seq = 1

    def fail(self, where: str, reason: str, event_id: int | None = None) -> None:
        self.report.breaks.append(Break(where, reason, event_id))
        if not self.find_all:
            raise _Stop

    def check_checkpoint_macs(self) -> None:
        for checkpoints in list(self.checkpoints.values()):
            for checkpoint in checkpoints:
                if not checkpoint.verifies():
                    self.fail(
                        f"checkpoint on line {checkpoint.line}",
                        "its MAC does not verify under the configured audit keys: the checkpoint was altered or forged",
                    )
                    checkpoints.remove(checkpoint)

    def row(self, row: dict[str, Any]) -> None:
        if row["seq"] is not None:
            self.link(row)
        elif row["created_at"] is not None and _aware(row["created_at"]) < self.oldest_unlinked:
            self.fail(
                f"event {row['id']}",
                f"it was never linked into the chain, and is older than {settings.AUDIT_LINK_MAX_AGE} s: the "
                "sealer is not running, or the event was inserted behind the trail's back",
                row["id"],
            )
        if row["id"] is not None:
            self.event(row)

    def link(self, row: dict[str, Any]) -> None:
        seq = row["seq"]
        where = f"link {seq} (event {row['link_event_id']})"
        if seq != self.expected_seq:
            self.fail(where, f"links {self.expected_seq} to {seq - 1} are missing: they were removed")
        if not self.keys.knows(row["link_key_id"]):
            self.fail(where, f"it is signed with audit key {row['link_key_id']}, which is not configured")
        elif row["chain_mac"] != link_mac(
            self.keys,
            row["link_key_id"],
            prev=self.prev,
            seq=seq,
            event_id=row["link_event_id"],
            event_mac=row["event_mac"],
        ):
            self.fail(
                where,
                "its chain MAC does not match: it, or a link before it, was altered, reordered or removed",
                row["link_event_id"],
            )
        if row["id"] is None:
            self.fail(where, f"event {row['link_event_id']} is missing: it was removed", row["link_event_id"])
        elif row["mac"] != row["event_mac"]:
            self.fail(where, "the event now there is not the one that was linked: it was replaced", row["id"])
        for checkpoint in self.checkpoints.pop(seq, []):
            if (checkpoint.chain_mac, checkpoint.event_id) != (row["chain_mac"], row["link_event_id"]):
                self.fail(
                    f"checkpoint on line {checkpoint.line}",
                    f"link {seq} is not the one checkpointed at {checkpoint.at}: the trail up to it was rewritten "
                    "or rebuilt",
                    row["link_event_id"],
                )
        self.prev = row["chain_mac"]
        self.expected_seq = seq + 1
        self.report.linked += 1

    def event(self, row: dict[str, Any]) -> None:
        where = f"event {row['id']}"
        row["uid"] = str(uuid.UUID(str(row["uid"])))
        row["created_at"] = _aware(row["created_at"])
        row["ip"] = normalise_ip(row["ip"].split("/")[0]) if row["ip"] else None
        if row["seq"] is None:
            self.report.unlinked += 1
        self.report.checked += 1
        if not self.keys.knows(row["key_id"]):
            self.fail(where, f"it is signed with audit key {row['key_id']}, which is not configured", row["id"])
        elif not self.keys.verify(row["key_id"], mac_message(row["body"]), row["mac"]):
            self.fail(where, "its content does not match its MAC: it was altered or forged", row["id"])
        else:
            wrong = columns_disagree(row["body"], row)
            if wrong:
                self.fail(where, f"its {', '.join(wrong)} no longer say what was recorded: altered", row["id"])

    def finish(self) -> None:
        last = self.expected_seq - 1
        for seq, checkpoints in sorted(self.checkpoints.items()):
            for checkpoint in checkpoints:
                if seq > last:
                    self.fail(
                        f"checkpoint on line {checkpoint.line}",
                        f"it names link {seq} (event {checkpoint.event_id}, at {checkpoint.at}), but the chain ends "
                        f"at link {last}: the newest events were removed",
                        checkpoint.event_id,
                    )


def _aware(value: Any) -> datetime:
    # SQLite hands back text in UTC without an offset; PostgreSQL, an aware datetime.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
