"""On PostgreSQL, refuse every change to an audit event but its links going NULL."""

from django.db import migrations

# Deleting a credential or a user sets the convenience foreign keys to NULL (the hashed text
# columns keep the history); nothing else may change, and no row may be deleted. Someone who
# can drop the trigger can still tamper, which the hash chain then reveals.
CREATE = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit events are append-only: event % cannot be deleted', OLD.id;
    END IF;
    IF (NEW.id, NEW.created_at, NEW.action, NEW.actor_repr, NEW.credential_ref, NEW.credential_name,
        NEW.ip, NEW.service, NEW.fields::text, NEW.details::text, NEW.prev_hash, NEW.hash)
       IS DISTINCT FROM
       (OLD.id, OLD.created_at, OLD.action, OLD.actor_repr, OLD.credential_ref, OLD.credential_name,
        OLD.ip, OLD.service, OLD.fields::text, OLD.details::text, OLD.prev_hash, OLD.hash)
       OR (NEW.actor_id IS NOT NULL AND NEW.actor_id IS DISTINCT FROM OLD.actor_id)
       OR (NEW.credential_id IS NOT NULL AND NEW.credential_id IS DISTINCT FROM OLD.credential_id)
    THEN
        RAISE EXCEPTION 'audit events are append-only: event % cannot be changed', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # no parameters: its % are PL/pgSQL's


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
