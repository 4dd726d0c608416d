"""Prepared statements answer as the plain ones do, stay bounded per connection, and step aside when asked to."""

import pytest
from django.db import DatabaseError, connection, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from config import prepared
from config.prepared import prepared_statements
from credentials.sharing import credential_share
from tests.conftest import require_service
from tests.factories import make_credential, make_user


def held() -> set[str]:
    """The statements the server holds for this connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def start_afresh() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    if hasattr(connections["default"], "_prepared_statements"):
        del connections["default"]._prepared_statements


@pytest.fixture
def fresh(postgres_only):
    start_afresh()


def read(name: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT username, is_active FROM auth_user WHERE username = %s", [name])
        return cursor.fetchall()


def test_a_select_runs_by_name_and_answers_the_same(fresh):
    make_user("ann")
    plain = read("ann")
    with prepared_statements():
        assert read("ann") == plain
        assert read("nobody") == []
    assert len(held()) == 1
    with prepared_statements():
        read("ann")
    assert len(held()) == 1  # prepared once, run again by name


def test_the_list_prepares_its_statements_and_answers_the_same(fresh, settings):
    owner, reader = make_user("owner"), make_user("reader")
    for number in range(3):
        made = make_credential(owner, "github_pat", name=f"c{number}")
        credential_share(actor=owner, credential_id=made.pk, user=reader, permissions=["view"])
    client = APIClient()
    client.force_authenticate(reader)
    settings.PREPARED_STATEMENTS = False
    plain = client.get("/api/credentials/").json()
    assert held() == set()
    settings.PREPARED_STATEMENTS = True
    assert client.get("/api/credentials/").json() == plain
    assert len(held()) == 2  # the page's ids and count; its rows
    assert client.get("/api/credentials/").json() == plain


def test_not_while_queries_are_recorded(fresh):
    # Whoever reads the record sees the SQL, not EXECUTE lk_...
    with CaptureQueriesContext(connection) as captured, prepared_statements():
        read("ann")
    assert held() == set()
    assert "auth_user" in captured.captured_queries[0]["sql"]


def test_writes_and_bare_parameters_run_plainly(fresh):
    make_user("ann")
    with prepared_statements(), connection.cursor() as cursor:
        cursor.execute("UPDATE auth_user SET first_name = %s WHERE username = %s", ["Ann", "ann"])
        # Prepared, a bare parameter would be read as text: '1' where the plain statement answers 1.
        for _ in range(2):
            cursor.execute("SELECT %s, username FROM auth_user WHERE username = %s", [1, "ann"])
            assert cursor.fetchall() == [(1, "ann")]
    assert held() == set()


def test_a_connection_holds_a_bounded_number(fresh, monkeypatch):
    monkeypatch.setattr(prepared, "MAX_STATEMENTS", 3)
    statements = [
        "SELECT id FROM auth_user WHERE id > %s LIMIT 1",
        "SELECT id FROM auth_user WHERE id > %s LIMIT 2",
        "SELECT id FROM auth_user WHERE id > %s LIMIT 3",
        "SELECT id FROM auth_user WHERE id > %s LIMIT 4",
        "SELECT id FROM auth_user WHERE id > %s LIMIT 5",
    ]
    for statement in statements:
        with prepared_statements(), connection.cursor() as cursor:
            cursor.execute(statement, [0])
        assert 1 <= len(held()) <= 3


@pytest.mark.django_db(transaction=True)
def test_a_statement_the_server_lost_is_prepared_again():
    require_service(connection.vendor == "postgresql", "this test needs PostgreSQL (set DATABASE_URL)")
    start_afresh()
    make_user("ann")
    with prepared_statements():
        read("ann")
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a pooler's DISCARD ALL would
    with prepared_statements():
        assert read("ann") == [("ann", True)]
    assert len(held()) == 1


def test_inside_a_transaction_a_lost_statement_is_an_error(fresh):
    # The failure has aborted the transaction: there is nothing to retry in it.
    make_user("ann")
    with prepared_statements():
        read("ann")
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with prepared_statements(), pytest.raises(DatabaseError, match="does not exist"):
        read("ann")
