"""manage.py verify_audit_chain: check every event's MAC, the keyed chain, and checkpoints kept outside."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import events
from audit.checkpoints import Checkpoint, read_checkpoints
from audit.models import AuditEvent
from audit.verification import Break, audit_verify_chain
from config.events import raise_event


class Command(BaseCommand):
    help = (
        "Check the audit trail: every event against its MAC, the chain of links, and (with --checkpoints) the "
        "signed checkpoints written outside the database. Exits non-zero naming the first break (--all: every one)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoints", type=Path, help="A file of checkpoints (the sink's file, or a syslog or journal export)."
        )
        parser.add_argument("--all", action="store_true", dest="find_all", help="Report every break, not the first.")

    def handle(self, *args: Any, checkpoints: Path | None, find_all: bool, **options: Any) -> None:
        found: list[Checkpoint] = []
        unreadable: list[tuple[int, str]] = []
        if checkpoints is not None:
            try:
                found, unreadable = read_checkpoints(checkpoints.read_text(errors="replace"))
            except OSError as exc:
                raise CommandError(f"Cannot read {checkpoints}: {exc.strerror or exc}.") from None
            if not found and not unreadable:
                raise CommandError(f"{checkpoints} holds no checkpoint.")
        report = audit_verify_chain(checkpoints=found, find_all=find_all)
        breaks = [Break(f"checkpoint on line {line}", reason) for line, reason in unreadable] + report.breaks
        summary = (
            f"{report.checked} events checked ({report.linked} linked, {report.unlinked} not yet), "
            f"{report.checkpoints} checkpoints"
        )
        if breaks:
            # Administrators hear of it (notifications), whoever ran the check and wherever its output went.
            raise_event(events.verification_failed, AuditEvent, breaks=len(breaks), first=str(breaks[0])[:500])
        if breaks and find_all:
            listed = "\n".join(f"- {b}" for b in breaks)
            raise CommandError(f"Audit trail broken in {len(breaks)} places:\n{listed}\n({summary}).")
        if breaks:
            raise CommandError(f"Audit trail broken at {breaks[0]} ({summary} before it stopped).")
        self.stdout.write(self.style.SUCCESS(f"Audit trail intact: {summary}."))
