"""Prefix indexes for the share pickers' search (credentials/share_candidates.py), on PostgreSQL.

Django's ``istartswith`` is ``UPPER(col::text) LIKE UPPER('ab%')`` there; an index on the same expression
with ``text_pattern_ops`` answers it whatever the database's collation. Other databases get none: SQLite
(``make run``) scans a development-sized table.
"""

from django.db import migrations

INDEXES = {
    "latchkey_user_active_username_prefix": (
        'CREATE INDEX IF NOT EXISTS {name} ON auth_user (UPPER(username::text) text_pattern_ops) WHERE is_active'
    ),
    "latchkey_group_name_prefix": "CREATE INDEX IF NOT EXISTS {name} ON auth_group (UPPER(name::text) text_pattern_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, sql in INDEXES.items():
            schema_editor.execute(sql.format(name=name))


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create, drop)]
