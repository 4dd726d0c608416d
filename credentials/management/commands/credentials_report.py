"""manage.py credentials_report: expired, expiring within N days, failing tests, never tested; a table or JSON."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from credentials.testers.report import SECTIONS, credential_report

TITLES = {
    "expired": "Expired",
    "expiring": "Expiring within {days} days",
    "failing": "Failing their last test",
    "never_tested": "Never tested",
}
TABLE_COLUMNS = ("name", "environment", "type", "owner", "expires_at", "test_status", "last_tested", "test_failures")


class Command(BaseCommand):
    help = "List active credentials that are expired, expire soon, fail their tests, or were never tested."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30, help="the window for 'expiring' (default 30)")
        parser.add_argument("--format", choices=("table", "json"), default="table")

    def handle(self, *args, days: int, format: str, **options):
        if not 0 <= days <= 36_500:
            raise CommandError("--days must be between 0 and 36500.")
        report = credential_report(days=days)
        if format == "json":
            self.stdout.write(json.dumps({"days": days, **report}, cls=DjangoJSONEncoder, indent=2))
            return
        for section in SECTIONS:
            rows = report[section]
            self.stdout.write(f"{TITLES[section].format(days=days)}: {len(rows)}")
            if rows:
                self.stdout.write(_table(rows))
            self.stdout.write("")


def _cell(row: dict, column: str) -> str:
    value = row[column]
    if value is None:
        return "-"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    if column == "test_failures" and row["flagged"]:
        return f"{value} (flagged)"
    return str(value)


def _table(rows: list[dict]) -> str:
    cells = [TABLE_COLUMNS, *[tuple(_cell(row, column) for column in TABLE_COLUMNS) for row in rows]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join("  " + line for line in lines)
