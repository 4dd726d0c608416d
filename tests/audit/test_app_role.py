"""The app under a PostgreSQL role that does not own the audit tables: it appends and seals, and nothing more there."""

import pytest
from django.core.management import call_command
from django.db import ProgrammingError, connection, transaction

from audit.models import AuditEvent, AuditLink
from audit.roles import app_role_grants
from audit.sealing import audit_seal
from audit.services import audit_record
from audit.verification import audit_verify_chain
from credentials.services import credential_delete
from tests.factories import make_credential, make_user

ROLE = "latchkey_app_test"


@pytest.fixture
def as_app_role(postgres_only):
    """The grants the README gives, to a role of this test's own (rolled back with it), then SET ROLE to it."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE} NOLOGIN")
        for statement in app_role_grants(ROLE):
            cursor.execute(statement)
        cursor.execute(f"SET ROLE {ROLE}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


def test_the_command_prints_the_grants(capsys):
    call_command("audit_app_role_sql", "app")
    out = capsys.readouterr().out
    assert 'REVOKE UPDATE, DELETE, TRUNCATE ON audit_auditevent, audit_auditlink FROM "app";' in out


def test_the_app_role_appends_seals_and_deletes_credentials(as_app_role):
    owner = make_user("owner-under-role")
    credential = make_credential(owner)  # an audited create, through the services
    audit_record(action="tested", credential=credential, details={"n": 1})
    assert audit_seal() == 2
    credential_delete(actor=owner, credential_id=credential.pk)  # the events' links go NULL: allowed
    assert AuditEvent.objects.filter(credential__isnull=True).count() == 3
    assert audit_verify_chain().ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET details = '{}'",
        "UPDATE audit_auditevent SET credential_ref = 'elsewhere'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent CASCADE",
        "UPDATE audit_auditlink SET chain_mac = ''",
        "DELETE FROM audit_auditlink",
        "TRUNCATE audit_auditlink",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only",
        "DROP TRIGGER audit_event_no_truncate ON audit_auditevent",
        "ALTER TABLE audit_auditlink DISABLE TRIGGER ALL",
    ],
)
def test_the_app_role_cannot_rewrite_the_trail(as_app_role, statement):
    audit_record(action="tested", details={"n": 1})
    audit_seal()
    refused = pytest.raises(ProgrammingError, match=r"permission denied|must be owner")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEvent.objects.count() == AuditLink.objects.count() == 1
    assert audit_verify_chain().ok
