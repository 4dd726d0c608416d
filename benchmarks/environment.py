"""The benchmark database and Django set up for it: a dedicated PostgreSQL database, migrated and seeded."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/latchkey_bench"
SEED_CREDENTIALS = 10_000
# An OAuth access token of about 1 KiB: the payload every seeded and created credential carries.
TOKEN_LENGTH = 1000
TYPE_SLUG = "gitlab_oauth"


class BenchSetupError(RuntimeError):
    """The benchmark database cannot be prepared; the message says why and what to do."""


@dataclass(frozen=True)
class BenchContext:
    """What every figure shares: the seeded owner, the seeded rows, and the payload they carry."""

    database: str
    server_version: str
    owner: Any  # the auth user that owns every seeded credential
    credential_ids: tuple[uuid.UUID, ...]
    type_slug: str
    type_id: int
    key_id: str  # the key ring's primary key, which encrypts every new row
    fields: dict[str, Any]  # valid field values for ``type_slug``; the secret is TOKEN_LENGTH characters
    ciphertext_bytes: int
    seed_seconds: float


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL


def configure() -> str:
    """Point Django at the benchmark database with a fresh key ring, then set it up.

    Settings are read from the environment at import, so everything is set before
    ``django.setup()``. An inherited DATABASE_URL is overridden on purpose: the
    benchmarks truncate tables and must never reach a development or test database.
    """
    import dj_database_url
    from cryptography.fernet import Fernet

    url = database_url()
    params = dj_database_url.parse(url)
    if params["ENGINE"] != "django.db.backends.postgresql":
        raise BenchSetupError(f"The benchmarks run on PostgreSQL; BENCH_DATABASE_URL names {params['ENGINE']}.")
    name = params["NAME"] or ""
    # The suite truncates tables; a name without "bench" is far more likely a mistake than a choice.
    if "bench" not in name:
        raise BenchSetupError(
            f"Refusing to use database {name!r}: the benchmarks truncate its tables. "
            "Point BENCH_DATABASE_URL at a database whose name contains 'bench'."
        )
    _create_database_if_missing(params)

    os.environ["DATABASE_URL"] = url
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    # A fresh key each run: rows from an earlier run cannot be opened, so seed() starts over.
    os.environ["FERNET_KEYS"] = Fernet.generate_key().decode()
    os.environ["AUDIT_KEYS"] = Fernet.generate_key().decode()
    os.environ["DEBUG"] = "0"
    # The list figure calls the API in-process through django.test.Client, whose requests name this host.
    os.environ["ALLOWED_HOSTS"] = "testserver"
    # The credential tests and clones measured go to servers on loopback, which DEBUG=0 refuses unless listed.
    os.environ.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    # The table alone on the terminal: tasks run in-process would log every success at INFO.
    os.environ["LOG_LEVEL"] = "WARNING"

    import django

    django.setup()
    return name


def _create_database_if_missing(params: dict[str, Any]) -> None:
    import psycopg2
    from psycopg2 import sql

    try:
        admin = psycopg2.connect(
            dbname="postgres",
            user=params["USER"] or None,
            password=params["PASSWORD"] or None,
            host=params["HOST"] or None,
            port=params["PORT"] or None,
        )
    except psycopg2.OperationalError as exc:
        raise BenchSetupError(
            f"Cannot reach PostgreSQL at {params['HOST']}:{params['PORT']} ({str(exc).strip()}). "
            "Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        ) from None
    try:
        # CREATE DATABASE cannot run inside a transaction block.
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [params["NAME"]])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(params["NAME"])))
    finally:
        admin.close()


def migrate() -> None:
    from django.core.management import call_command
    from django.db import connection

    # A benchmark database holds only what the last run left, and its floors write audit rows no
    # chain or key vouches for; the audit migrations refuse to sign such a trail, so it goes first.
    audit_tables = [t for t in connection.introspection.table_names() if t.startswith("audit_")]
    if audit_tables:
        with connection.cursor() as cursor:
            cursor.execute(
                "SET session_replication_role = replica; "
                f"TRUNCATE {', '.join(audit_tables)} CASCADE; "
                "SET session_replication_role = DEFAULT"
            )
    call_command("migrate", verbosity=0, interactive=False)


# Empty the credential and audit tables of the benchmarks' own database. The audit tables refuse
# TRUNCATE (audit migration 0007): the benchmarks empty them as the database's superuser, with
# triggers off for this statement only. CASCADE: whatever else points at credentials in this
# database is benchmark debris too.
EMPTY_CREDENTIALS_AND_AUDIT = (
    "SET session_replication_role = replica; "
    "TRUNCATE audit_auditlink, audit_auditevent, audit_auditsealer, credentials_credential RESTART IDENTITY CASCADE; "
    "SET session_replication_role = DEFAULT"
)


def empty_credentials_and_audit() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(EMPTY_CREDENTIALS_AND_AUDIT)


def fill_credentials(
    count: int, *, owner_name: str, name_prefix: str, chunk: int = 5000, versions: int = 0
) -> tuple[Any, Any, dict]:
    """Empty the credential and audit tables, then store ``count`` credentials; return (owner, first, fields).

    One credential goes through credential_create, so its payload has exactly the shape
    the service writes; the others are that payload sealed again by the real KeyRing under
    their own ids and bulk inserted, which takes seconds instead of a minute of audited creates.
    With ``versions``, each of the others also keeps that many versions (1 to ``versions``, each
    sealed with its own number; the row holds the last), and the first is changed until it has as many.
    """
    from django.contrib.auth import get_user_model

    from credentials.keys.ring import get_keyring
    from credentials.models import Credential, CredentialVersion, VersionOrigin
    from credentials.services import credential_create, credential_update
    from tests.factories import valid_fields

    width = len(str(count))
    empty_credentials_and_audit()
    owner, _ = get_user_model().objects.get_or_create(username=owner_name)

    fields = valid_fields(TYPE_SLUG, secret=secrets.token_urlsafe(TOKEN_LENGTH)[:TOKEN_LENGTH])
    template = credential_create(actor=owner, type_slug=TYPE_SLUG, name=f"{name_prefix}{0:0{width}d}", fields=fields)
    for _ in range(versions - 1):  # a new secret of the same length: a new version of the same size
        changed = {"access_token": secrets.token_urlsafe(TOKEN_LENGTH)[:TOKEN_LENGTH]}
        template = credential_update(actor=owner, credential_id=template.pk, changes={"fields": changed})
    keyring = get_keyring()
    last = template.secret_version
    payload = keyring.open(
        credential_id=template.pk,
        type_slug=TYPE_SLUG,
        number=last,
        ciphertext=template.ciphertext,
        key_id=template.key_id,
    )

    rows: list[Credential] = []
    kept: list[CredentialVersion] = []
    for number in range(1, count):
        credential_id = uuid.uuid4()
        sealed = keyring.seal(credential_id=credential_id, type_slug=TYPE_SLUG, number=last, data=payload)
        for version in range(1, versions + 1):
            token = keyring.seal(credential_id=credential_id, type_slug=TYPE_SLUG, number=version, data=payload)
            origin = VersionOrigin.CREATED if version == 1 else VersionOrigin.CHANGED
            kept.append(
                CredentialVersion(
                    credential_id=credential_id,
                    number=version,
                    origin=origin,
                    ciphertext=token.ciphertext,
                    key_id=token.key_id,
                    created_by=owner,
                )
            )
        rows.append(
            Credential(
                id=credential_id,
                name=f"{name_prefix}{number:0{width}d}",
                type=template.type,
                environment=template.environment,
                owner=owner,
                allowed_hosts=template.allowed_hosts,
                public_fields=template.public_fields,
                secrets_set=template.secrets_set,
                metadata=template.metadata,
                ciphertext=sealed.ciphertext,
                key_id=sealed.key_id,
                secret_version=last,
                created_by=owner,
                updated_by=owner,
            )
        )
        if len(rows) == chunk:  # bounded memory however many rows are asked for
            _bulk_insert(rows, kept)
            rows, kept = [], []
    _bulk_insert(rows, kept)
    return owner, template, fields


def _bulk_insert(rows: list[Any], versions: list[Any]) -> None:
    from django.db import transaction

    from credentials.models import Credential, CredentialVersion

    with transaction.atomic():
        Credential.objects.bulk_create(rows, batch_size=1000)
        CredentialVersion.objects.bulk_create(versions, batch_size=1000)


def seed(database: str) -> BenchContext:
    """Store SEED_CREDENTIALS credentials (fill_credentials) and describe them for the figures."""
    from django.db import connection

    from credentials.keys.ring import get_keyring
    from credentials.models import Credential

    started = time.perf_counter()
    owner, template, fields = fill_credentials(SEED_CREDENTIALS, owner_name="bench-owner", name_prefix="bench-")
    keyring = get_keyring()
    with connection.cursor() as cursor:
        # Fresh statistics, so the planner sees 10,000 rows rather than an empty table.
        cursor.execute("VACUUM ANALYZE credentials_credential")
        cursor.execute("VACUUM ANALYZE audit_auditevent")
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()

    ids = tuple(Credential.objects.order_by("name").values_list("id", flat=True))
    if len(ids) != SEED_CREDENTIALS:
        raise BenchSetupError(f"Seeding stored {len(ids)} credentials instead of {SEED_CREDENTIALS}.")
    return BenchContext(
        database=database,
        server_version=server_version,
        owner=owner,
        credential_ids=ids,
        type_slug=TYPE_SLUG,
        type_id=template.type_id,
        key_id=keyring.primary_key_id,
        fields=fields,
        ciphertext_bytes=len(template.ciphertext),
        seed_seconds=time.perf_counter() - started,
    )
