"""manage.py export_credentials: chosen credentials, secrets included, to a file sealed under a passphrase."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from credentials.keys.passphrase import read_passphrase
from credentials.keys.transfer import Selection, TransferError, credentials_export
from credentials.keys.transfer_file import ExportFileError


class Command(BaseCommand):
    help = (
        "Write the chosen credentials, secrets included, to a file encrypted under a passphrase read from "
        "standard input (Argon2id, AES-256-GCM). The file does not depend on FERNET_KEYS: it moves "
        "credentials to another instance, or keeps a backup. Shares and history are not exported."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", required=True, help="the file to write (created with mode 0600)")
        parser.add_argument("--all", action="store_true", dest="everything", help="every credential")
        parser.add_argument("--owner", help="only credentials owned by this username")
        parser.add_argument("--team", help="only credentials of this team (group name)")
        parser.add_argument("--type", dest="type_slug", help="only credentials of this type (slug)")
        parser.add_argument("--environment", help="only credentials in this environment")
        parser.add_argument("--force", action="store_true", help="replace the output file if it exists")

    def handle(self, *args, output: str, everything: bool, force: bool, **options):
        selection = Selection(
            owner=options["owner"],
            team=options["team"],
            type_slug=options["type_slug"],
            environment=options["environment"],
            everything=everything,
        )
        passphrase = read_passphrase(options.get("stdin") or sys.stdin, confirm=True)
        try:
            result = credentials_export(selection=selection, passphrase=passphrase, path=Path(output), overwrite=force)
        except (TransferError, ExportFileError) as exc:
            for problem in getattr(exc, "problems", ()):
                self.stderr.write(f"  {problem}")
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Exported {result.count} credential(s) to {output} (SHA-256 {result.file_sha256}).")
        )
        self.stdout.write("Keep the passphrase apart from the file: whoever has both has every secret in it.")
