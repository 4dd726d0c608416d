"""The exported and imported audit actions (manage.py export_credentials, import_credentials)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0003_chain_head'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('created', 'Created'), ('updated', 'Updated'), ('deactivated', 'Deactivated'), ('deleted', 'Deleted'), ('accessed', 'Accessed'), ('access_denied', 'Access denied'), ('access_failed', 'Access failed'), ('tested', 'Tested'), ('shared', 'Shared'), ('unshared', 'Unshared'), ('rotated', 'Rotated'), ('exported', 'Exported'), ('imported', 'Imported')], db_index=True, max_length=32),
        ),
    ]
