"""The chain head, and on PostgreSQL the function that appends an event in one statement."""

from django.db import migrations, models

# Python builds the event's canonical body (audit.services.canonical_body); this function
# chains it. Locking the head row serialises appends; under READ COMMITTED a writer that
# waited for the lock reads the head as the previous writer committed it. Every statement
# is a primary-key lookup or an insert, so no cached plan can go stale as the table grows.
CREATE_FUNCTION = """
CREATE FUNCTION audit_append(
    p_body text,
    p_created_at timestamptz,
    p_action varchar,
    p_actor_id bigint,
    p_actor_repr varchar,
    p_credential_id uuid,
    p_credential_ref varchar,
    p_credential_name varchar,
    p_ip inet,
    p_service varchar,
    p_fields jsonb,
    p_details jsonb
) RETURNS TABLE (event_id bigint, event_prev_hash varchar, event_hash varchar) AS $$
DECLARE
    v_prev varchar;
    v_hash varchar;
    v_id bigint;
BEGIN
    SELECT h.hash INTO v_prev FROM audit_auditchainhead h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        -- A new or flushed database starts the chain; a head removed later shows as a break.
        INSERT INTO audit_auditchainhead (id, hash, last_event_id) VALUES (1, repeat('0', 64), NULL)
            ON CONFLICT (id) DO NOTHING;
        SELECT h.hash INTO STRICT v_prev FROM audit_auditchainhead h WHERE h.id = 1 FOR UPDATE;
    END IF;
    v_hash := encode(sha256(convert_to(v_prev || E'\\n' || p_body, 'UTF8')), 'hex');
    INSERT INTO audit_auditevent (
        created_at, action, actor_id, actor_repr, credential_id, credential_ref, credential_name,
        ip, service, fields, details, prev_hash, hash
    ) VALUES (
        p_created_at, p_action, p_actor_id, p_actor_repr, p_credential_id, p_credential_ref,
        p_credential_name, p_ip, p_service, p_fields, p_details, v_prev, v_hash
    ) RETURNING id INTO v_id;
    UPDATE audit_auditchainhead SET hash = v_hash, last_event_id = v_id WHERE id = 1;
    RETURN QUERY SELECT v_id, v_prev, v_hash;
END;
$$ LANGUAGE plpgsql;
"""

DROP_FUNCTION = (
    "DROP FUNCTION IF EXISTS audit_append(text, timestamptz, varchar, bigint, varchar, uuid, varchar, varchar, "
    "inet, varchar, jsonb, jsonb);"
)


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_FUNCTION, params=None)  # no parameters: its % are PL/pgSQL's


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_FUNCTION, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_append_only'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditChainHead',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('hash', models.CharField(max_length=64)),
                ('last_event_id', models.BigIntegerField(null=True)),
            ],
        ),
        migrations.RunPython(create_function, drop_function),
    ]
