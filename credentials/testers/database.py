"""Testers for database passwords: PostgreSQL (connect and SELECT 1) and Redis (AUTH and PING)."""

from __future__ import annotations

import os
import socket
import tempfile
from contextlib import contextmanager
from typing import Any

import psycopg2
import redis
from django.views.decorators.debug import sensitive_variables
from redis.backoff import NoBackoff
from redis.maint_notifications import MaintNotificationsConfig
from redis.retry import Retry

from credentials import outbound
from credentials.door import RevealedSecret
from credentials.redaction import Redactor
from credentials.testers.base import Tester, TestFailed


@contextmanager
def _ca_file(pem: str | None):
    """A CA certificate (public, not secret) as the file libpq wants, removed when the test ends."""
    if not pem:
        yield None
        return
    handle, path = tempfile.mkstemp(prefix="latchkey-ca-", suffix=".pem")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(pem)
        yield path
    finally:
        os.unlink(path)


class PostgresTester(Tester):
    slug = "postgres"
    timeout = 5.0

    @sensitive_variables("secret", "params")
    def check(self, secret: RevealedSecret, redactor: Redactor) -> tuple[str, dict[str, Any]]:
        host, port = secret["host"], int(secret.get("port") or 5432)
        # The host allowed, then its address judged (credentials.outbound), resolved once.
        destination = secret.destination(host, port)
        database, user = secret["database"], secret["username"]
        # libpq reads a database name holding "=" or a URI as a whole connection string, which
        # could name another host: refuse it rather than let a field redirect the password.
        for label, value in (("database", database), ("user name", user)):
            if "=" in value or value.startswith(("postgres://", "postgresql://")):
                raise TestFailed(f"The {label} must be a plain name, not a connection string.")
        sslmode = secret.get("sslmode") or "prefer"
        with _ca_file(secret.get("ssl_root_cert")) as ca_path:
            params = {
                # libpq connects to hostaddr and looks nothing up; host still names the server for
                # TLS (verify-full checks the certificate against it, and it is the SNI sent).
                "host": host,
                "hostaddr": destination.address,
                "port": port,
                "dbname": database,
                "user": user,
                "sslmode": sslmode,
                "connect_timeout": int(self.timeout),
                "application_name": "latchkey-credential-test",
                # The whole test is bounded, SELECT 1 included.
                "options": f"-c statement_timeout={int(self.timeout * 1000)}",
            }
            if ca_path:
                params["sslrootcert"] = ca_path
            password = secret.get("password") or ""
            if password:
                params["password"] = password
            else:
                # No password stored: the role must get in without one. libpq would otherwise offer
                # the worker's own PGPASSWORD or ~/.pgpass; with require_auth=none it refuses to
                # answer any request for a password, and reads no password file.
                params["require_auth"] = "none"
                params["passfile"] = os.devnull
            try:
                connection = psycopg2.connect(**params)
            except psycopg2.OperationalError as exc:
                raise TestFailed(f"PostgreSQL at {host}:{port} refused the connection: {_first_line(exc)}") from None
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    cursor.fetchone()
                version = connection.server_version
            except psycopg2.Error as exc:
                raise TestFailed(f"Connected, but SELECT 1 failed: {_first_line(exc)}") from None
            finally:
                connection.close()
        major = f"{version // 10000}.{version % 10000}" if version >= 100000 else str(version)
        how = "" if password else " without a password (the server asked for none)"
        message = f"Connected to {host}:{port}/{database} as {user}{how} and ran SELECT 1 (PostgreSQL {major})."
        return message, {"server_version": major}


class RedisTester(Tester):
    slug = "redis"
    timeout = 5.0

    @sensitive_variables("secret", "client", "pool")
    def check(self, secret: RevealedSecret, redactor: Redactor) -> tuple[str, dict[str, Any]]:
        host, port = secret["host"], int(secret.get("port") or 6379)
        # The host allowed, then its address judged (credentials.outbound), resolved once.
        destination = secret.destination(host, port)
        tls = bool(secret.get("tls"))
        client = pool = None
        try:
            options: dict[str, Any] = {}
            if tls:
                # Verified against the host's name, whichever address the socket went to.
                options = {
                    "ssl_ca_data": secret.get("tls_ca_cert") or None,
                    "ssl_cert_reqs": "required",
                    "ssl_check_hostname": True,
                }
            pool = redis.ConnectionPool(
                connection_class=_PinnedSSLConnection if tls else _PinnedConnection,
                destination=destination,
                host=host,
                port=port,
                db=int(secret.get("db") or 0),
                username=secret.get("username") or None,
                password=secret["password"],
                socket_connect_timeout=self.timeout,
                socket_timeout=self.timeout,
                # One attempt: a wrong password is an answer, not a reason to try again.
                retry=Retry(NoBackoff(), 0),
                # A server's "moved" notice would send the password to wherever it names.
                maint_notifications_config=MaintNotificationsConfig(enabled=False),
                **options,
            )
            # A single connection, made here: it sends AUTH (and SELECT) before the PING.
            client = redis.Redis(connection_pool=pool, single_connection_client=True)
            client.ping()
            version = client.info("server").get("redis_version", "")
        except redis.AuthenticationError as exc:
            raise TestFailed(f"Redis at {host}:{port} refused the password: {_first_line(exc)}") from None
        except redis.ResponseError as exc:
            raise TestFailed(f"Redis at {host}:{port} answered with an error: {_first_line(exc)}") from None
        except redis.TimeoutError:
            raise TestFailed(f"Redis at {host}:{port} did not answer within {self.timeout:g} s.") from None
        except redis.ConnectionError as exc:
            raise TestFailed(f"Could not reach Redis at {host}:{port}: {_first_line(exc)}") from None
        finally:
            if client is not None:
                client.close()
            if pool is not None:
                pool.disconnect()  # ours, not the client's: close() only hands the connection back to it
        return f"Authenticated to Redis at {host}:{port} and got PONG (Redis {version}).", {"server_version": version}


class _PinnedConnection(redis.connection.Connection):
    """redis-py's connection, to the address judged instead of a fresh lookup of the host's name."""

    def __init__(self, *, destination: outbound.Destination, **kwargs: Any) -> None:
        self.destination = destination
        super().__init__(**kwargs)

    def _connect(self) -> socket.socket:
        sock = outbound.connect(self.destination, self.socket_connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.socket_timeout)
        return sock


class _PinnedSSLConnection(redis.connection.SSLConnection, _PinnedConnection):
    """TLS (SSLConnection, which checks the certificate against ``host``) over _PinnedConnection's socket."""


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
