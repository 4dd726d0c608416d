"""Fixtures for the integration tests: the real broker, a worker on the test database, and servers to test against."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis as redis_client

from tests.conftest import require_service
from tests.integration import servers


def broker_url() -> str:
    return os.environ.get("CELERY_BROKER_URL", "")


def broker_reachable() -> bool:
    url = broker_url()
    if not url.startswith("redis://"):
        return False
    try:
        return bool(redis_client.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis_client.RedisError:
        return False


@pytest.fixture(scope="session")
def broker() -> str:
    require_service(broker_reachable(), "the Celery broker is not reachable (set CELERY_BROKER_URL to a Redis URL)")
    return broker_url()


@pytest.fixture(scope="session")
def test_database_url(django_db_setup, django_db_blocker) -> str:
    """The URL of pytest-django's test database, for processes the tests start (the worker)."""
    from django.db import connection

    require_service(connection.vendor == "postgresql", "the worker tests need PostgreSQL (set DATABASE_URL)")
    settings = connection.settings_dict
    user = quote(settings["USER"] or "", safe="")
    password = f":{quote(settings['PASSWORD'], safe='')}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def _purge() -> None:
    # Messages left by an earlier, interrupted run would otherwise reach this run's worker.
    from config.celery import app

    app.control.purge()


@pytest.fixture(scope="module")
def worker(broker, test_database_url, tmp_path_factory) -> Iterator[servers.Worker]:
    """A real ``celery -A config worker`` (concurrency 2) on the real broker and the test database."""
    _purge()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = servers.start_worker(database_url=test_database_url, broker_url=broker, log=log)
    yield process
    # Stopped before the test database is dropped: its connections would prevent that.
    servers.stop(process.process, group=True)


@pytest.fixture
def killable_worker(broker, test_database_url, tmp_path) -> Iterator[servers.Worker]:
    """A worker of this test's own, which the test may kill."""
    _purge()
    process = servers.start_worker(database_url=test_database_url, broker_url=broker, log=tmp_path / "worker.log")
    yield process
    servers.stop(process.process, group=True)


@pytest.fixture(scope="session")
def own_postgres() -> Iterator[servers.Postgres]:
    """A PostgreSQL cluster of our own with password authentication (the shared one trusts loopback)."""
    require_service(servers.postgres_bin() is not None, "PostgreSQL's initdb is not installed")
    # Not under pytest's folder: as root, initdb runs as the postgres account, which may not enter it.
    directory = Path(tempfile.mkdtemp(prefix="latchkey-pg-"))
    try:
        with servers.postgres_server(directory) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd_available() -> None:
    require_service(
        os.path.exists("/usr/sbin/sshd") and shutil.which("ssh-keygen") is not None,
        "OpenSSH's server is not installed (apt-get install openssh-server)",
    )


@pytest.fixture(scope="session")
def redis_server_available() -> None:
    require_service(shutil.which("redis-server") is not None, "redis-server is not installed")


def wait_for_result(credential_id: uuid.UUID, *, timeout: float = 45.0):
    """The credential once its test has finished (passed or failed), polled from the database."""
    from credentials.models import Credential

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        credential = Credential.objects.get(pk=credential_id)
        if credential.test_status in ("passed", "failed"):
            return credential
        time.sleep(0.1)
    raise AssertionError(f"the test of {credential_id} did not finish within {timeout:g} s")


@contextlib.contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Point this process's Celery app at another broker (a dead one), then back."""
    from config.celery import app

    # broker_url is copied into the read and write URLs when the app is configured.
    names = ("broker_url", "broker_read_url", "broker_write_url")
    previous = {name: app.conf[name] for name in names}

    def reset() -> None:
        # The connection and producer pools were made for the old URL.
        app._pool = None
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None

    app.conf.update(dict.fromkeys(names, url))
    reset()
    try:
        yield
    finally:
        app.conf.update(previous)
        reset()
