"""Rotation on PostgreSQL beside live writers: SIGKILL mid-run then again, concurrent updates, locked rows."""

import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, transaction

from audit.models import AuditEvent
from credentials.keys.ring import KeyRing, get_keyring, key_id_for
from credentials.models import Credential, CredentialVersion, VersionOrigin
from credentials.services import credential_update
from credentials.type_cache import type_by_slug
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
VERSIONS = 3  # each seeded credential's history; the row holds the payload of the last


@pytest.fixture
def keys(postgres_only, settings, fresh_key):
    """(new, old): the rows are written under old; then new goes first, as an operator deploys it."""
    old = django_settings.FERNET_KEYS[0]
    yield fresh_key, old
    settings.FERNET_KEYS = [old]


def seed(owner, count: int) -> list[Credential]:
    """``count`` committed rows under the current primary key, each with VERSIONS kept versions.

    Row n holds the secret "secret-n", as does its last version; its earlier version k holds
    "secret-n-vk". Each payload is sealed with its own number, as the services seal them.
    """
    type_row = type_by_slug("github_pat")
    keyring = get_keyring()
    rows, versions = [], []
    for n in range(count):
        credential = Credential(
            name=f"row-{n:05d}",
            type=type_row,
            owner=owner,
            allowed_hosts=["github.com", "api.github.com"],
            secret_version=VERSIONS,
            secrets_set=["token"],
        )
        for number in range(1, VERSIONS + 1):
            secret = f"secret-{n}" if number == VERSIONS else f"secret-{n}-v{number}"
            sealed = keyring.seal(
                credential_id=credential.pk,
                type_slug="github_pat",
                number=number,
                data={"fields": {"token": secret}, "allowed_hosts": credential.allowed_hosts},
            )
            versions.append(
                CredentialVersion(
                    credential=credential,
                    number=number,
                    origin=VersionOrigin.CREATED if number == 1 else VersionOrigin.CHANGED,
                    ciphertext=sealed.ciphertext,
                    key_id=sealed.key_id,
                )
            )
        # The row's own token for the same payload as its last version: two tokens, one plaintext.
        sealed = keyring.seal(credential_id=credential.pk, type_slug="github_pat", number=VERSIONS, data=data_of(n))
        credential.ciphertext, credential.key_id = sealed.ciphertext, sealed.key_id
        rows.append(credential)
    created = Credential.objects.bulk_create(rows, batch_size=2000)
    CredentialVersion.objects.bulk_create(versions, batch_size=2000)
    return created


def data_of(n: int) -> dict:
    return {"fields": {"token": f"secret-{n}"}, "allowed_hosts": ["github.com", "api.github.com"]}


def expected_versions(count: int) -> dict[tuple[str, int], str]:
    return {
        (f"row-{n:05d}", number): f"secret-{n}" if number == VERSIONS else f"secret-{n}-v{number}"
        for n in range(count)
        for number in range(1, VERSIONS + 1)
    }


def rotation_process(keys: list[str], *args: str) -> subprocess.Popen:
    """manage.py rotate_encryption_keys in its own process, on this test's database."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "FERNET_KEYS": ",".join(keys),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "rotate_encryption_keys", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def under(key: str, model: type[Credential | CredentialVersion] = Credential) -> int:
    return model.objects.filter(key_id=key_id_for(key.encode())).count()


def secrets_with(ring: KeyRing) -> dict[str, str]:
    """Every row's secret, opened with ``ring``: a row it cannot open raises."""
    opened = {}
    rows = Credential.objects.values_list("pk", "name", "secret_version", "ciphertext", "key_id")
    for pk, name, number, ciphertext, key_id in rows.iterator(chunk_size=2000):
        data = ring.open(credential_id=pk, type_slug="github_pat", number=number, ciphertext=ciphertext, key_id=key_id)
        opened[name] = data["fields"]["token"]
    return opened


def version_secrets_with(ring: KeyRing) -> dict[tuple[str, int], str]:
    """Every kept version's secret by (credential name, number), opened with ``ring`` as that number."""
    opened = {}
    versions = CredentialVersion.objects.values_list(
        "credential_id", "credential__name", "number", "ciphertext", "key_id"
    )
    for credential_id, name, number, ciphertext, key_id in versions.iterator(chunk_size=2000):
        data = ring.open(
            credential_id=credential_id, type_slug="github_pat", number=number, ciphertext=ciphertext, key_id=key_id
        )
        opened[name, number] = data["fields"]["token"]
    return opened


@pytest.mark.parametrize("killed_in", [Credential, CredentialVersion], ids=["rows", "versions"])
def test_a_rotation_killed_mid_run_leaves_everything_readable_and_a_second_run_finishes(keys, settings, killed_in):
    new, old = keys
    owner = make_user("killed")
    total = 5_000  # credentials: 5,000 rows, then 15,000 versions
    seed(owner, total)
    expected = {f"row-{n:05d}": f"secret-{n}" for n in range(total)}

    process = rotation_process([new, old], "--batch-size", "50")
    deadline = time.monotonic() + 60
    # Killed once 1,000 of the rows (the first table), or of the versions (the second), are committed.
    while under(new, killed_in) < 1000 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the rotation finished before it could be killed: seed more rows"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    # Every committed batch is whole, and the open one rolled back: each one is under one key or the other.
    moved, moved_versions = under(new), under(new, CredentialVersion)
    assert 1000 <= under(new, killed_in) < total * (1 if killed_in is Credential else VERSIONS)
    assert moved + under(old) == total
    assert moved_versions + under(old, CredentialVersion) == total * VERSIONS
    assert secrets_with(KeyRing([new, old])) == expected
    assert version_secrets_with(KeyRing([new, old])) == expected_versions(total)
    assert not AuditEvent.objects.filter(action="rotated").exists()  # the killed run never finished

    settings.FERNET_KEYS = [new, old]
    call_command("rotate_encryption_keys", "--batch-size", "500", stdout=StringIO())
    assert under(new) == total and under(new, CredentialVersion) == total * VERSIONS
    # The old key is no longer needed, and each version still opens only as its own number.
    assert secrets_with(KeyRing([new])) == expected
    assert version_secrets_with(KeyRing([new])) == expected_versions(total)
    (event,) = AuditEvent.objects.filter(action="rotated")
    assert event.details["rotated"] == total - moved
    assert event.details["versions"]["rotated"] == total * VERSIONS - moved_versions


def test_updates_from_another_connection_during_rotation_are_not_lost(keys, settings):
    new, old = keys
    owner = make_user("writer")
    rows = seed(owner, 4000)
    targets = rows[::80]  # 50 rows spread over the key range, which the rotation walks in order
    settings.FERNET_KEYS = [new, old]  # the site is deployed with the new key before the rotation
    versions = {row.pk: 1 for row in targets}
    written: dict = {}

    process = rotation_process([new, old], "--batch-size", "20")
    deadline = time.monotonic() + 60
    while under(new) == 0 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert under(old) > 0, "the rotation finished before the writer started: seed more rows"
    writes = 0
    while process.poll() is None and time.monotonic() < deadline:
        row = targets[writes % len(targets)]
        writes += 1
        value = f"written-{writes}"
        # The version the writer last read: the rotation must not make it stale.
        credential_update(
            actor=owner,
            credential_id=row.pk,
            changes={"fields": {"token": value}},
            expected_version=versions[row.pk],
        )
        versions[row.pk] += 1
        written[row.name] = value
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert writes > len(targets), "too few writes overlapped the rotation to show anything"

    opened = secrets_with(KeyRing([new]))  # every row under the new key alone
    for row in rows:
        assert opened[row.name] == written.get(row.name, f"secret-{int(row.name[4:])}")
    # And every version, those the writer added and those the rotation moved; each row's last is its own.
    opened_versions = version_secrets_with(KeyRing([new]))
    last = dict(Credential.objects.values_list("name", "secret_version"))
    assert all(opened_versions[name, last[name]] == secret for name, secret in opened.items())
    assert dict(Credential.objects.filter(pk__in=versions).values_list("pk", "version")) == versions


def test_a_row_a_writer_holds_is_skipped_reported_and_rotated_by_the_next_run(keys, settings):
    new, old = keys
    owner = make_user("holder")
    rows = seed(owner, 30)
    held = rows[7]
    with transaction.atomic():
        Credential.objects.select_for_update().get(pk=held.pk)  # a writer in the middle of an update
        process = rotation_process([new, old], "--batch-size", "4", "--passes", "2")
        _, err = process.communicate(timeout=60)
    assert process.returncode == 75, err  # EX_TEMPFAIL: run again
    assert "1 row(s) or version(s) stayed locked by writers through 2 pass(es)" in err
    assert Credential.objects.get(pk=held.pk).key_id == key_id_for(old.encode())
    assert under(new) == 29
    event = AuditEvent.objects.get(action="rotated")
    assert (event.details["busy"], event.details["passes"], event.details["rotated"]) == (1, 2, 29)
    assert event.details["versions"]["rotated"] == 30 * VERSIONS  # the row's lock does not hold its versions

    settings.FERNET_KEYS = [new, old]
    call_command("rotate_encryption_keys", stdout=StringIO())
    assert under(new) == 30
    assert secrets_with(KeyRing([new]))[held.name] == "secret-7"
    assert version_secrets_with(KeyRing([new])) == expected_versions(30)


def test_a_row_referenced_by_an_open_transaction_does_not_hold_up_the_rotation(keys, settings):
    # An audit event inserted for a credential (the one door's, a test's) locks its row FOR KEY
    # SHARE until the transaction ends; the rotation locks FOR NO KEY UPDATE, which does not
    # conflict with that, so a credential in use is rotated in the first pass all the same.
    new, old = keys
    owner = make_user("user")
    rows = seed(owner, 10)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM credentials_credential WHERE id = %s FOR KEY SHARE", [rows[3].pk])
        process = rotation_process([new, old], "--passes", "1")
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert under(new) == 10
