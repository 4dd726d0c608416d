"""The canary search: every form a secret could leak in, and a haystack of everything a surface showed."""

import base64
from urllib.parse import quote, quote_plus

from django.db import connection

from tests.factories import ssh_keypair, valid_fields


def canary_fields(type_slug: str, canary: str) -> tuple[dict, set[str]]:
    """Valid fields of a built-in type with ``canary`` in every secret, and every secret they hold.

    An SSH key's private key is a secret of its own (encrypted under the canary as passphrase).
    """
    secrets = {canary}
    if type_slug == "ssh_key":
        secrets.add(ssh_keypair(canary)[0])
    return valid_fields(type_slug, canary), secrets


def forms_of(secret: str) -> set[str]:
    encoded = secret.encode("utf-8", "surrogatepass")  # a lone surrogate too, as the redactor does
    return {
        secret,
        quote(encoded, safe=""),
        quote_plus(encoded),
        base64.b64encode(encoded).decode().rstrip("="),
        base64.urlsafe_b64encode(encoded).decode().rstrip("="),
    }


class Haystack:
    """Everything collected from the surfaces, searched at the end for every form of every secret."""

    def __init__(self):
        self.pieces: list[tuple[str, str]] = []

    def add(self, where: str, text) -> None:
        self.pieces.append((where, text if isinstance(text, str) else repr(text)))

    def leaks(self, secrets: set[str]) -> list[str]:
        needles = set().union(*(forms_of(s) for s in secrets))
        return [f"{where}: {needle[:20]}…" for where, text in self.pieces for needle in needles if needle in text]


def dump_database(haystack: Haystack, label: str) -> None:
    """Every row of every table, every column but the ciphertext, as text."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table) if c.name != "ciphertext"
            ]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                haystack.add(f"{label} {table}", row)
