"""manage.py check_encryption_keys: rows per key, and any row no configured key opens (exit 1 if any)."""

from django.core.management.base import BaseCommand, CommandError

from credentials.keys.inventory import key_report


class Command(BaseCommand):
    help = (
        "Count the credentials each key id protects and open every row to prove it decrypts. "
        "A key may leave FERNET_KEYS once it protects no row. Exits non-zero naming any unreadable row."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--quick", action="store_true", help="only compare key ids; do not open the rows of configured keys"
        )

    def handle(self, *args, quick: bool, **options):
        report = key_report(verify=not quick)
        for position, key_id in enumerate(report.configured, start=1):
            role = "encrypts new values" if position == 1 else "decrypts only"
            self.stdout.write(f"key {position} ({key_id}, {role}): {report.rows_by_key.get(key_id, 0)} rows")
        for key_id, count in sorted(report.rows_by_key.items()):
            if key_id not in report.configured:
                self.stdout.write(f"unknown key {key_id or '(none)'}: {count} rows")
        for position, key_id in enumerate(report.configured[1:], start=2):
            if not report.rows_by_key.get(key_id):
                self.stdout.write(f"key {position} protects no row: it may be removed from FERNET_KEYS.")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("Every row decrypts with a configured key."))
            return
        for row in report.unreadable:
            self.stderr.write(f"unreadable: {row.name} ({row.credential_id}): {row.reason}")
        raise CommandError(f"{len(report.unreadable)} credential(s) cannot be decrypted with the configured keys.")
