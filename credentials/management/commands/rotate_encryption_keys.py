"""manage.py rotate_encryption_keys: re-encrypt every credential and kept version under the first key of FERNET_KEYS."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from credentials.keys.rotation import DEFAULT_BATCH_SIZE, DEFAULT_PASSES, NAMED_UNKNOWN, credential_keys_rotate

# sysexits' EX_TEMPFAIL: nothing is wrong, some rows were busy; run the command again.
EXIT_BUSY = 75


class Command(BaseCommand):
    help = (
        "Re-encrypt every credential and kept version that is not under the first key of FERNET_KEYS, while "
        "the site keeps running. Safe to stop and run again: it continues with what is left. Exits 1 naming "
        "rows or versions no configured key opens, and 75 when some stayed locked by writers (run it again)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only count the rows and versions each key protects")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"rows (or versions) re-encrypted and committed together (default {DEFAULT_BATCH_SIZE})",
        )
        parser.add_argument(
            "--passes",
            type=int,
            default=DEFAULT_PASSES,
            help=f"passes over rows that writers held locked (default {DEFAULT_PASSES})",
        )

    def handle(self, *args, dry_run: bool, batch_size: int, passes: int, **options):
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000.")
        if passes < 1:
            raise CommandError("--passes must be at least 1.")
        bar = None

        def on_start(report):
            nonlocal bar
            rows, versions = report.rows.pending, report.versions.pending
            total = rows.total() + versions.total() + sum(tally.pending.total() for _, tally in report.others())
            self.stdout.write(
                f"Primary key {report.primary_key_id}: "
                f"{rows.total()} rows and {versions.total()} versions to re-encrypt."
            )
            for label, tally in report.others():
                if tally.pending:
                    self.stdout.write(f"  and {tally.pending.total()} {label}")
            for key_id in sorted(rows.keys() | versions.keys()):
                self.stdout.write(f"  under key {key_id}: {rows[key_id]} rows, {versions[key_id]} versions")
            if not dry_run and total:
                # On a terminal only: tqdm draws nothing when its stream is not a TTY (disable=None).
                # The wrapped stream itself (OutputWrapper would end each redraw with a newline); django-stubs
                # does not declare OutputWrapper._out.
                bar = tqdm(total=total, unit="row", file=self.stderr._out, disable=None, leave=False)  # type: ignore[call-overload]

        try:
            report = credential_keys_rotate(
                batch_size=batch_size,
                passes=passes,
                dry_run=dry_run,
                progress=lambda n: bar.update(n) if bar is not None else None,
                on_start=on_start,
            )
        finally:
            if bar is not None:
                bar.close()

        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
        else:
            rows, versions = report.rows.rotated.total(), report.versions.rotated.total()
            others = "".join(f", {tally.rotated.total()} {label}" for label, tally in report.others() if tally.rotated)
            self.stdout.write(
                f"Re-encrypted {rows} rows and {versions} versions{others} in {report.passes} pass(es), "
                f"{report.seconds:.1f} s."
            )
        self._report_problems(report)

    def _report_problems(self, report) -> None:
        rows, versions = report.rows.unknown, report.versions.unknown
        for key_id in sorted(rows.keys() | versions.keys()):
            self.stderr.write(
                f"unknown key {key_id or '(none)'}: {rows[key_id]} rows, {versions[key_id]} versions left as they are"
            )
        for label, tally in report.others():
            for key_id, count in sorted(tally.unknown.items()):
                self.stderr.write(f"unknown key {key_id or '(none)'}: {count} {label} left as they are")
        for pk, name in report.unknown_rows:
            self.stderr.write(f"  under an unknown key: {name} ({pk})")
        if rows.total() > len(report.unknown_rows):
            self.stderr.write(
                f"  ... and {rows.total() - len(report.unknown_rows)} more "
                f"(the first {NAMED_UNKNOWN} are named; check_encryption_keys names them all)"
            )
        for row in report.unreadable:
            self.stderr.write(f"unreadable: {row}")
        if report.unknown or report.unreadable:
            unreadable_versions = sum(row.version is not None for row in report.unreadable)
            raise CommandError(
                f"{rows.total() + len(report.unreadable) - unreadable_versions} credential(s) and "
                f"{versions.total() + unreadable_versions} version(s) cannot be decrypted with the configured "
                "keys and were left untouched. Add the missing key to FERNET_KEYS (after the first), or "
                "re-enter those credentials' secrets."
            )
        if report.busy:
            raise CommandError(
                f"{report.busy} row(s) or version(s) stayed locked by writers through {report.passes} pass(es) and "
                "are still under an old key. Run the command again.",
                returncode=EXIT_BUSY,
            )
        if not report.dry_run:
            self.stdout.write(
                self.style.SUCCESS(
                    "Every credential and kept version is under the primary key. Check with "
                    "check_encryption_keys before removing an old key from FERNET_KEYS."
                )
            )
