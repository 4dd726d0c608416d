"""manage.py audit_checkpoint: link what is committed, then write a signed checkpoint outside the database."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from audit.checkpoints import audit_checkpoint


class Command(BaseCommand):
    help = (
        "Link committed audit events into the chain, then append a signed checkpoint of its head to the sink "
        "(AUDIT_CHECKPOINT_SINK: stdout, syslog, or a file path)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sink", help=f"Where to write it instead of {settings.AUDIT_CHECKPOINT_SINK!r}.")

    def handle(self, *args: Any, sink: str | None, **options: Any) -> None:
        checkpoint = audit_checkpoint(sink=sink)
        # The checkpoint itself may be going to stdout: the summary goes to stderr.
        self.stderr.write(f"Checkpoint at link {checkpoint.seq} (event {checkpoint.event_id}) written.")
