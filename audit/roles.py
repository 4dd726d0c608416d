"""The grants for running the app under a PostgreSQL role that does not own the audit tables.

The owner of a table can drop its triggers and truncate it; the app should not be that owner.
Its role may read and append to the audit trail and nothing else there (the convenience links
to users and credentials may still go NULL when those are deleted).
"""

from __future__ import annotations

from django.db import connection

AUDIT_TABLES = ("audit_auditevent", "audit_auditlink")


def app_role_grants(role: str) -> list[str]:
    """The statements, run by the tables' owner after ``migrate``, that let ``role`` run the app."""
    name = connection.ops.quote_name(role)
    audit = ", ".join(AUDIT_TABLES)
    return [
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {audit} FROM {name}",
        f"GRANT UPDATE (actor_id, credential_id) ON audit_auditevent TO {name}",
    ]
