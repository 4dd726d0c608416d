"""The keyed chain's links, the sealer's progress, and on PostgreSQL the triggers that keep both append-only."""

from django.db import migrations, models
import django.db.models.deletion

# Each event records the transaction that wrote it (a column only PostgreSQL has, filled by its
# default), so that the sealer reads only the events of transactions it has not yet seen finish.
# Row triggers refuse every change but a link going NULL, and every deletion; statement triggers
# refuse TRUNCATE, which row triggers do not see. A role that owns the tables can still drop
# them: run the app under one that does not (README), and keep checkpoints outside the database.
CREATE = """
ALTER TABLE audit_auditevent ADD COLUMN txid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX audit_auditevent_txid ON audit_auditevent (txid);

CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit events are append-only: event % cannot be deleted', OLD.id;
    END IF;
    IF (NEW.id, NEW.uid, NEW.created_at, NEW.action, NEW.actor_repr, NEW.credential_ref, NEW.credential_name,
        NEW.ip, NEW.service, NEW.fields::text, NEW.details::text, NEW.body, NEW.mac, NEW.key_id, NEW.txid)
       IS DISTINCT FROM
       (OLD.id, OLD.uid, OLD.created_at, OLD.action, OLD.actor_repr, OLD.credential_ref, OLD.credential_name,
        OLD.ip, OLD.service, OLD.fields::text, OLD.details::text, OLD.body, OLD.mac, OLD.key_id, OLD.txid)
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

CREATE FUNCTION audit_link_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit links are append-only: link % cannot be changed or deleted', OLD.seq;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_link_append_only
    BEFORE UPDATE OR DELETE ON audit_auditlink
    FOR EACH ROW EXECUTE FUNCTION audit_link_append_only();

CREATE FUNCTION audit_refuse_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % cannot be truncated', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
CREATE TRIGGER audit_link_no_truncate
    BEFORE TRUNCATE ON audit_auditlink FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_link_no_truncate ON audit_auditlink;
DROP FUNCTION IF EXISTS audit_refuse_truncate();
DROP TRIGGER IF EXISTS audit_link_append_only ON audit_auditlink;
DROP FUNCTION IF EXISTS audit_link_append_only();
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP INDEX IF EXISTS audit_auditevent_txid;
ALTER TABLE audit_auditevent DROP COLUMN IF EXISTS txid;
"""


def create_sql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # no parameters: its % are PL/pgSQL's


def drop_sql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0006_keyed_events"),
    ]

    operations = [
        migrations.RemoveField(model_name="auditevent", name="prev_hash"),
        migrations.RemoveField(model_name="auditevent", name="hash"),
        migrations.AlterField(
            model_name="auditevent",
            name="uid",
            field=models.UUIDField(editable=False, help_text="In the MAC: a copied event is refused.", unique=True),
        ),
        migrations.AlterField(model_name="auditevent", name="body", field=models.TextField(editable=False)),
        migrations.AlterField(
            model_name="auditevent", name="mac", field=models.CharField(editable=False, max_length=64)
        ),
        migrations.AlterField(
            model_name="auditevent", name="key_id", field=models.CharField(editable=False, max_length=16)
        ),
        migrations.DeleteModel(name="AuditChainHead"),
        migrations.CreateModel(
            name="AuditSealer",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("resume_txid", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="AuditLink",
            fields=[
                ("seq", models.BigIntegerField(primary_key=True, serialize=False)),
                ("event_mac", models.CharField(max_length=64)),
                ("chain_mac", models.CharField(max_length=64)),
                ("key_id", models.CharField(max_length=16)),
                ("linked_at", models.DateTimeField()),
                (
                    "event",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="link", to="audit.auditevent"
                    ),
                ),
            ],
        ),
        migrations.RunPython(create_sql, drop_sql),
    ]
