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
            wait_for_fan_out()
            return credential
        time.sleep(0.1)
    raise AssertionError(f"the test of {credential_id} did not finish within {timeout:g} s")


def wait_for_fan_out(timeout: float = 30.0) -> None:
    """Until the worker has fanned out every event raised so far (a failed sync or test raises one).

    A test ends by flushing the database, whose TRUNCATE would deadlock with a fan-out still reading it.
    """
    from notifications.models import RaisedEvent

    deadline = time.monotonic() + timeout
    while RaisedEvent.objects.filter(fanned_out_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker did not fan out the events raised within {timeout:g} s")
        time.sleep(0.05)


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


# --- Git servers for plugins/git/command.py (tests/integration/git_servers.py) ------------------------------


@pytest.fixture(scope="session")
def git_available() -> None:
    from tests.integration import git_servers

    require_service(
        shutil.which("git") is not None and os.path.exists(git_servers.HTTP_BACKEND),
        "git and git-http-backend are not installed (apt-get install git)",
    )


@pytest.fixture(scope="session")
def git_https(git_available, tmp_path_factory):
    """git http-backend over TLS on loopback, accepting user ``x-access-token`` with one token (GitHub's form).

    Yields a git_servers.HTTPSSite: its CA file (for PLUGINS_GIT_CA_FILE), token, a private repository
    (main with 3 commits, branch feature/next, annotated tag v1) and a public one; ``.server.repository()``
    makes more, ``.server.requests`` records every request (path, host, whether auth was sent and right).
    """
    import secrets

    from tests.integration import git_servers

    token = "lk-canary-" + secrets.token_urlsafe(24)
    directory = tmp_path_factory.mktemp("git-https")
    with git_servers.git_https_server(directory, username="x-access-token", token=token) as server:
        private_url, private_refs = server.repository("plugin.git", branches=("feature/next",), tags=("v1",))
        public_url, public_refs = server.repository("open.git", public=True)
        yield git_servers.HTTPSSite(server, private_url, private_refs, public_url, public_refs)


@pytest.fixture(scope="session")
def git_ssh(git_available, sshd_available, tmp_path_factory):
    """OpenSSH's sshd on loopback serving one repository, authorizing one generated Ed25519 key.

    Yields a git_servers.SSHSite: ``url`` (ssh://root@127.0.0.1:PORT/abs/path/plugin.git), ``scp_url``
    (the same as user@host:path, which cannot carry the port), ``refs``, ``key`` (private key, the same
    key under a passphrase, the passphrase, the public line) and ``host_key_line`` to pin.
    """
    from tests.integration import git_servers

    directory = tmp_path_factory.mktemp("git-ssh")
    with git_servers.git_ssh_server(directory, git_servers.make_ssh_key()) as server:
        url, refs = server.repository("plugin.git", branches=("feature/next",), tags=("v1",))
        scp_url = f"{server.user}@{servers.LOOPBACK}:{server.root / 'plugin.git'}"
        yield git_servers.SSHSite(server, url, scp_url, refs)


@pytest.fixture(scope="session")
def git_large_https_url(git_https) -> str:
    """A private repository of about 40 MB of incompressible data on the HTTPS server: a clone takes seconds."""
    url, _ = git_https.server.repository(
        "large.git", files=40, commits=1, branches=(), tags=(), file_size=1 << 20, incompressible=True
    )
    return url
