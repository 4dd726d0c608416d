"""Each existing credential's sealed payload becomes its version 1 ("recorded when history began").

The token is copied as it is: payloads sealed before versions were numbered count as number 1
(credentials.keys.ring), so the copy opens as version 1 of its own row and of no other.
"""

import uuid

from django.db import migrations

BATCH = 1000


def record(apps, schema_editor):
    Credential = apps.get_model("credentials", "Credential")
    CredentialVersion = apps.get_model("credentials", "CredentialVersion")
    rows = Credential.objects.order_by("pk").values_list("pk", "ciphertext", "key_id", "updated_at", "updated_by_id")
    last = None
    while True:
        batch = list((rows.filter(pk__gt=last) if last is not None else rows)[:BATCH])
        if not batch:
            return
        CredentialVersion.objects.bulk_create(
            CredentialVersion(
                id=uuid.uuid4(),
                credential_id=pk,
                number=1,
                origin="recorded",
                changed_fields=[],
                ciphertext=ciphertext,
                key_id=key_id,
                created_at=updated_at,
                created_by_id=updated_by_id,
            )
            for pk, ciphertext, key_id, updated_at, updated_by_id in batch
        )
        last = batch[-1][0]


class Migration(migrations.Migration):
    dependencies = [("credentials", "0006_secret_versions")]

    operations = [migrations.RunPython(record, migrations.RunPython.noop)]
