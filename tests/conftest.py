"""Shared fixtures: users, keys, credentials, and the rule that required servers are never skipped."""

import os

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.contrib.auth.models import Group
from django.db import connection

from tests.factories import CLOCK_START, make_user

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def require_service(available: bool, reason: str) -> None:
    """Skip when a server is missing, unless REQUIRE_SERVICES=1 (CI), where that is a failure."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)  # reached only without REQUIRE_SERVICES=1, which fails above


@pytest.fixture
def postgres_only(db):
    require_service(connection.vendor == "postgresql", "this test needs PostgreSQL (set DATABASE_URL)")


def pytest_sessionstart(session):
    if REQUIRE_SERVICES and connection.vendor != "postgresql":
        raise pytest.UsageError("REQUIRE_SERVICES=1 needs DATABASE_URL to point at PostgreSQL.")


@pytest.fixture
def owner(db):
    return make_user("owner")


@pytest.fixture
def stranger(db):
    return make_user("stranger")


@pytest.fixture
def superuser(db):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def fresh_key():
    return Fernet.generate_key().decode()


@pytest.fixture
def tamper_with_audit():
    """Let a test alter, delete and truncate audit rows as an attacker with the database's own rights could.

    ``session_replication_role = replica`` switches every ordinary trigger off for this session
    (the append-only and TRUNCATE triggers, and the foreign keys'); only a superuser may set it.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_audit_triggers():
    """Django empties the tables between transactional tests with TRUNCATE, which the audit tables
    refuse (migration audit 0007); the test suite's superuser flushes with triggers off."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with self.connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            original(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Each test's database is rolled back; rows or keys cached by an earlier test must not survive it."""
    from config.caches import clear_process_caches

    clear_process_caches()
    yield
    clear_process_caches()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache: one test's requests must not throttle the next's."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def eager_tasks():
    """Tasks run in-process when queued, as in the embedded default, whatever broker is configured."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def clock():
    """The clock held at CLOCK_START (time-machine, never a sleep); tests move it with ``clock.move_to``."""
    with time_machine.travel(CLOCK_START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def contractors(db):
    """A group, for credentials made requestable by its members."""
    return Group.objects.create(name="contractors")


@pytest.fixture
def member(contractors):
    """A member of ``contractors``, with no share of anything."""
    user = make_user("member")
    contractors.user_set.add(user)
    return user
