"""Server-side prepared statements on PostgreSQL: a hot read is planned once per connection, then run by name."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from django.conf import settings
from django.db import DatabaseError, connections

# Statements kept per connection: past this all are deallocated and prepared again as they come,
# so that a client paging through many pages (Django writes LIMIT and OFFSET into the SQL) never
# grows the server's memory.
MAX_STATEMENTS = 32

# Django's SQL for psycopg2 marks a parameter %s and a literal percent sign %%.
_MARKS = re.compile(r"%s|%%")
# Errors that mean the server no longer holds the statement as it was prepared: someone ran
# DEALLOCATE or DISCARD, or a migration changed a column it reads. Prepared again, once.
_STALE = (psycopg2.errors.InvalidSqlStatementName, psycopg2.errors.FeatureNotSupported)


class _Statements:
    """What one server connection holds: the names of the statements prepared on it, and of those refused."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.names: set[str] = set()
        self.refused: set[str] = set()


@contextmanager
def prepared_statements(using: str = "default") -> Iterator[None]:
    """Within this block, each SELECT with positional parameters runs as a prepared statement.

    What it saves is the server's parse and plan of a long statement on every call (a page of the
    credential list: about 2 ms of its 3 statements, measured by `make bench`). The SQL and its
    parameters are exactly what the ORM built; only how they reach the server changes.

    It does nothing on another database, when PREPARED_STATEMENTS is off (a pooler that hands
    each transaction a different server connection, such as PgBouncer in transaction mode, loses
    them), or while queries are being recorded (DEBUG, a test's CaptureQueriesContext), so that
    whoever reads the record sees the SQL rather than "EXECUTE lk_...".
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.PREPARED_STATEMENTS:
        yield
        return
    with connection.execute_wrapper(_execute_prepared):
        yield


def _execute_prepared(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    connection = context["connection"]
    if (
        many
        or connection.queries_logged
        or not isinstance(params, list | tuple)
        or sql.lstrip()[:6].upper() != "SELECT"
    ):
        return execute(sql, params, many, context)
    statements = _statements_of(connection)
    name = "lk_" + hashlib.blake2b(sql.encode(), digest_size=12).hexdigest()
    if name in statements.refused:
        return execute(sql, params, many, context)
    run = f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}"
    cursor = context["cursor"].cursor  # psycopg2's own: PREPARE and DEALLOCATE are not the caller's queries
    if name not in statements.names and not _prepare(connection, cursor, statements, name, sql, params):
        return execute(sql, params, many, context)
    if not connection.get_autocommit():
        # A failure has aborted the transaction: nothing to retry in it.
        return execute(run, params, many, context)
    try:
        return execute(run, params, many, context)
    except DatabaseError as exc:  # Django's, raised from psycopg2's
        if not isinstance(exc.__cause__, _STALE):
            raise
        statements.names.clear()
        if not _prepare(connection, cursor, statements, name, sql, params, start_over=True):
            return execute(sql, params, many, context)
        return execute(run, params, many, context)


def _statements_of(connection: Any) -> _Statements:
    # Kept on Django's wrapper, and begun again whenever it opens a new server connection.
    statements: _Statements | None = getattr(connection, "_prepared_statements", None)
    if statements is None or statements.raw is not connection.connection:
        statements = _Statements(connection.connection)
        connection._prepared_statements = statements
    return statements


def _prepare(
    connection: Any, cursor: Any, statements: _Statements, name: str, sql: str, params: Any, *, start_over: bool = False
) -> bool:
    """PREPARE ``sql`` as ``name``; False, and never again on this connection, if it should run as it is.

    It should when the server refuses it, or when the server would read a parameter that is not a
    string as text: a bare parameter has no column to take its type from (``SELECT %s``), and the
    prepared statement would answer '1' where the plain one answers 1. Inside a transaction a
    refusal would abort it, so there the PREPARE runs under a savepoint. A PREPARE outlives the
    transaction it ran in, even one rolled back, as it does on the server.
    """
    number = 0

    def placeholder(mark: re.Match[str]) -> str:
        nonlocal number
        if mark.group() == "%%":
            return "%"
        number += 1
        return f"${number}"

    savepoint = not connection.get_autocommit()  # in a transaction
    try:
        if savepoint:
            cursor.execute("SAVEPOINT lk_prepare")
        if start_over or len(statements.names) >= MAX_STATEMENTS:
            # Room made at once, and whatever the server still holds goes: only this module prepares.
            cursor.execute("DEALLOCATE ALL")
            statements.names.clear()
        cursor.execute(f"PREPARE {name} AS {_MARKS.sub(placeholder, sql)}")
        cursor.execute("SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = %s", [name])
        (types,) = cursor.fetchone()
        read_as_text = (value for kind, value in zip(types, params, strict=False) if kind == "text")
        if any(not isinstance(value, str | None) for value in read_as_text):
            cursor.execute(f"DEALLOCATE {name}")
            _refuse(statements, name)
        if savepoint:
            cursor.execute("RELEASE SAVEPOINT lk_prepare")
    except psycopg2.Error:
        if savepoint:
            cursor.execute("ROLLBACK TO SAVEPOINT lk_prepare")
            cursor.execute("RELEASE SAVEPOINT lk_prepare")
        _refuse(statements, name)
    if name in statements.refused:
        return False
    statements.names.add(name)
    return True


def _refuse(statements: _Statements, name: str) -> None:
    if len(statements.refused) >= MAX_STATEMENTS:  # bounded as the prepared ones are
        statements.refused.clear()
    statements.refused.add(name)
