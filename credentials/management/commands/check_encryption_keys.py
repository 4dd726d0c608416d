"""manage.py check_encryption_keys: rows and versions per key, and any no configured key opens (exit 1 if any)."""

from django.core.management.base import BaseCommand, CommandError

from credentials.keys.inventory import key_report


class Command(BaseCommand):
    help = (
        "Count the credentials and kept versions each key id protects and open every one to prove it decrypts. "
        "A key may leave FERNET_KEYS once it protects no row and no version. Exits non-zero naming any unreadable "
        "row or version."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--quick",
            action="store_true",
            help="only compare key ids; do not open the rows and versions of configured keys",
        )

    def handle(self, *args, quick: bool, **options):
        report = key_report(verify=not quick)
        for position, key_id in enumerate(report.configured, start=1):
            role = "encrypts new values" if position == 1 else "decrypts only"
            self.stdout.write(f"key {position} ({key_id}, {role}): {self._counts(report, key_id)}")
        for key_id in sorted(report.key_ids() - set(report.configured)):
            self.stdout.write(f"unknown key {key_id or '(none)'}: {self._counts(report, key_id)}")
        for position, key_id in enumerate(report.configured[1:], start=2):
            if not report.protects(key_id):
                self.stdout.write(f"key {position} protects no row or version: it may be removed from FERNET_KEYS.")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("Every row and version decrypts with a configured key."))
            return
        for row in report.unreadable:
            self.stderr.write(f"unreadable: {row}")
        versions = sum(row.version is not None for row in report.unreadable)
        raise CommandError(
            f"{len(report.unreadable) - versions} credential(s) and {versions} version(s) cannot be decrypted "
            "with the configured keys."
        )

    @staticmethod
    def _counts(report, key_id: str) -> str:
        return report.described(key_id)
