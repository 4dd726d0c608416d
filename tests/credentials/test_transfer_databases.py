"""Export from this database, import into another instance (its own database and key), on PostgreSQL."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import psycopg2
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from psycopg2 import sql

from credentials.keys.ring import KeyRing, key_id_for
from tests.factories import make_credential, make_user, ssh_keypair

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "moving house, carefully"
pytestmark = pytest.mark.integration


@pytest.fixture
def other_instance(postgres_only):
    """A second Latchkey: its own database, migrated, with its own key, run as its own processes."""
    db = connection.settings_dict
    name = f"{db['NAME']}_other"
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"] or None}
    admin = psycopg2.connect(dbname="postgres", **params)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    key = Fernet.generate_key().decode()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{name}",
        "FERNET_KEYS": key,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }

    def manage(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True
        )

    try:
        migrated = manage("migrate", "--noinput")
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        made = manage(
            "shell",
            "-c",
            "from django.contrib.auth.models import Group, User; "
            "User.objects.create_user('alice'); Group.objects.create(name='ops')",
        )
        assert made.returncode == 0, made.stderr[-2000:]
        database = psycopg2.connect(dbname=name, **params)
        database.autocommit = True
        yield manage, database, key
        database.close()
    finally:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def rows(database) -> dict[str, tuple]:
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT c.name, c.id, t.slug, c.ciphertext, c.key_id, u.username, g.name FROM credentials_credential c "
            "JOIN credentials_credentialtype t ON t.id = c.type_id JOIN auth_user u ON u.id = c.owner_id "
            "LEFT JOIN auth_group g ON g.id = c.team_id"
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_credentials_move_to_another_instance_under_its_key_and_nothing_on_refusal(other_instance, tmp_path):
    manage, database, other_key = other_instance
    from django.contrib.auth.models import Group

    alice = make_user("alice")
    ops = Group.objects.create(name="ops")
    alice.groups.add(ops)
    sources = {
        "gh": make_credential(alice, "github_pat", secret="gh-secret", name="gh"),
        "db": make_credential(alice, "postgres", secret="pg-secret", name="db", environment="staging"),
        "deploy": make_credential(alice, "ssh_key", secret="ssh-secret", name="deploy", team=ops),
    }
    path = tmp_path / "move.lkx"
    call_command("export_credentials", "-o", str(path), "--all", stdin=StringIO(PASSPHRASE + "\n"), stdout=StringIO())

    wrong = manage("import_credentials", str(path), stdin="not the passphrase\n")
    assert wrong.returncode == 1 and "Wrong passphrase" in wrong.stderr
    altered = tmp_path / "altered.lkx"
    data = bytearray(path.read_bytes())
    # Another base64 character in the body: still base64 (flipping a bit could leave the alphabet,
    # 'z' becoming '{', and be refused as damaged instead), so it is the authentication that refuses.
    data[-20] = ord("A") if data[-20] != ord("A") else ord("B")
    altered.write_bytes(bytes(data))
    refused = manage("import_credentials", str(altered), stdin=PASSPHRASE + "\n")
    assert refused.returncode == 1 and "altered" in refused.stderr
    assert rows(database) == {}

    imported = manage("import_credentials", str(path), stdin=PASSPHRASE + "\n")
    assert imported.returncode == 0, imported.stderr
    assert "Imported 3 credential(s)" in imported.stdout
    stored = rows(database)
    assert set(stored) == set(sources)
    ring = KeyRing([other_key])  # the other instance's key alone opens them
    expected = {"gh": ("token", "gh-secret"), "db": ("password", "pg-secret"), "deploy": ("passphrase", "ssh-secret")}

    def values_of(row):
        pk, slug, ciphertext, key_id = row[:4]
        return ring.open(credential_id=pk, type_slug=slug, number=1, ciphertext=ciphertext, key_id=key_id)["fields"]

    for name, (pk, slug, ciphertext, key_id, owner, team) in stored.items():
        assert str(pk) != str(sources[name].pk)  # a new row, and the payload is bound to it
        assert key_id == key_id_for(other_key.encode()) and owner == "alice"
        assert team == ("ops" if name == "deploy" else None)
        values = ring.open(credential_id=pk, type_slug=slug, number=1, ciphertext=ciphertext, key_id=key_id)["fields"]
        field, secret = expected[name]
        assert values[field] == secret
    assert values_of(stored["deploy"])["private_key"] == ssh_keypair("ssh-secret")[0]

    again = manage("import_credentials", str(path), stdin=PASSPHRASE + "\n")
    assert again.returncode == 1 and "exists already here" in again.stderr
    assert len(rows(database)) == 3
