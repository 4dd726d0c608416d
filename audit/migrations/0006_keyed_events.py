"""Keyed events: each existing event gets a uid, its canonical body and its MAC under the audit key.

The existing events were chained by plain SHA-256. They are MACed only after that chain is
verified here, so that an event altered before the upgrade is not blessed by it; a broken chain
stops the migration, naming the event, unless an operator who investigated it lists it in
AUDIT_UPGRADE_ACCEPT_EVENTS.
"""

import hashlib
import json
import os
import uuid
from datetime import UTC

from django.db import migrations, models

OLD_GENESIS = "0" * 64
DROP_OLD = """
DROP FUNCTION IF EXISTS audit_append(text, timestamptz, varchar, bigint, varchar, uuid, varchar, varchar,
    inet, varchar, jsonb, jsonb);
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
"""


def drop_old_sql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_OLD, params=None)


def _old_hash(prev_hash, event):
    content = {
        "created_at": event.created_at.astimezone(UTC).isoformat(),
        "action": event.action,
        "actor": event.actor_repr,
        "credential": event.credential_ref,
        "credential_name": event.credential_name,
        "ip": event.ip,
        "service": event.service,
        "fields": list(event.fields),
        "details": event.details,
    }
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _accepted_events():
    """Event ids an operator investigated and accepts as they stand (AUDIT_UPGRADE_ACCEPT_EVENTS)."""
    raw = os.environ.get("AUDIT_UPGRADE_ACCEPT_EVENTS", "")
    return {int(item) for item in raw.split(",") if item.strip()}


def mac_existing_events(apps, schema_editor):
    from audit.content import body_of, mac_message
    from audit.keys import get_audit_keys

    AuditEvent = apps.get_model("audit", "AuditEvent")
    events = AuditEvent.objects.order_by("id")
    if not events.exists():
        return
    keys = get_audit_keys()
    accepted = _accepted_events()
    expected = OLD_GENESIS
    for event in events.iterator(chunk_size=2000):
        linked = event.prev_hash == expected
        if not (linked and _old_hash(event.prev_hash, event) == event.hash) and event.id not in accepted:
            raise RuntimeError(
                f"Audit event {event.id} does not match the hash chain it was written into: "
                + ("its content differs from its hash" if linked else "an event before it was removed or altered")
                + ". Investigate before upgrading; this migration will not sign a trail it cannot vouch for. "
                "The old chain also breaks on honest events whose details hold a number the database respells "
                "(1e16, -0.0). Once you have checked an event, list it in AUDIT_UPGRADE_ACCEPT_EVENTS "
                f"(comma-separated ids, for example {event.id}) and migrate again: it is signed as it stands."
            )
        expected = event.hash
        event.uid = uuid.uuid4()
        event.body = body_of(event)
        event.key_id, event.mac = keys.sign(mac_message(event.body))
        event.save(update_fields=["uid", "body", "mac", "key_id"])


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0005_alter_auditevent_action"),
    ]

    operations = [
        migrations.RunPython(drop_old_sql, migrations.RunPython.noop),
        migrations.AddField(model_name="auditevent", name="uid", field=models.UUIDField(null=True, editable=False)),
        migrations.AddField(model_name="auditevent", name="body", field=models.TextField(default="", editable=False)),
        migrations.AddField(
            model_name="auditevent", name="mac", field=models.CharField(default="", editable=False, max_length=64)
        ),
        migrations.AddField(
            model_name="auditevent", name="key_id", field=models.CharField(default="", editable=False, max_length=16)
        ),
        migrations.RunPython(mac_existing_events, migrations.RunPython.noop),
    ]
