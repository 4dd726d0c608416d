"""Reading a passphrase for the export commands: from standard input, never from the command line."""

from __future__ import annotations

import getpass
from typing import TextIO

from django.core.management.base import CommandError


def read_passphrase(stdin: TextIO, *, confirm: bool) -> str:
    """Ask twice on a terminal (once with ``confirm`` off); read one line when input is piped.

    Never an argument: arguments are visible to every user in /proc/*/cmdline and kept in shell
    history. Only the line ending is removed; spaces are part of a passphrase.
    """
    if stdin.isatty():
        passphrase = getpass.getpass("Passphrase: ")
        if confirm and getpass.getpass("Passphrase again: ") != passphrase:
            raise CommandError("The passphrases do not match.")
    else:
        passphrase = stdin.readline().rstrip("\r\n")
    if not passphrase:
        raise CommandError("No passphrase: give it on standard input (for example, from a file: < passphrase.txt).")
    return passphrase
