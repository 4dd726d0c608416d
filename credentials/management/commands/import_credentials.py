"""manage.py import_credentials: store the credentials of an export file, every one or none."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from credentials.keys.passphrase import read_passphrase
from credentials.keys.transfer import TransferError, credentials_import
from credentials.keys.transfer_file import ExportFileError


class Command(BaseCommand):
    help = (
        "Import the credentials of a file written by export_credentials, with its passphrase on standard input. "
        "Every credential is checked against its type first; then all are stored in one transaction, or none. "
        "Owners are matched by username (or all given to --owner); teams by name."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("file", help="the export file")
        parser.add_argument("--owner", help="give every imported credential to this user instead of matching names")
        parser.add_argument(
            "--keep-ids", action="store_true", help="keep the exported ids (a restore); refused if one exists here"
        )
        parser.add_argument("--dry-run", action="store_true", help="check everything, store nothing")

    def handle(self, *args, file: str, owner: str | None, keep_ids: bool, dry_run: bool, **options):
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        passphrase = read_passphrase(options.get("stdin") or sys.stdin, confirm=False)
        try:
            result = credentials_import(
                data=data, passphrase=passphrase, owner_username=owner, keep_ids=keep_ids, dry_run=dry_run
            )
        except (TransferError, ExportFileError) as exc:
            for problem in getattr(exc, "problems", ()):
                self.stderr.write(f"  {problem}")
            raise CommandError(str(exc)) from None
        if dry_run:
            self.stdout.write(f"Dry run: {result.count} credential(s) would be imported; nothing was stored.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported {result.count} credential(s) from {file}."))
