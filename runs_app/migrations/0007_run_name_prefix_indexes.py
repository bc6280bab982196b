"""Name-prefix indexes for the admin's run search (``name LIKE 'prefix%'``).

A plain b-tree on ``name`` serves ``LIKE`` prefixes only under the C collation; the
``text_pattern_ops`` operator class serves them under any collation. PostgreSQL only:
SQLite has no operator classes (its search reads the ``ix_*_name`` index or the table).
"""

from django.db import migrations

from orion_project.migration_ops import postgres_only_sql


class Migration(migrations.Migration):
    dependencies = [("runs_app", "0006_run_state_count")]

    operations = [
        postgres_only_sql(
            [
                "CREATE INDEX IF NOT EXISTS ix_fr_name_prefix ON runs_app_flowrun (name text_pattern_ops)",
                "CREATE INDEX IF NOT EXISTS ix_tr_name_prefix ON runs_app_taskrun (name text_pattern_ops)",
            ],
            [
                "DROP INDEX IF EXISTS ix_fr_name_prefix",
                "DROP INDEX IF EXISTS ix_tr_name_prefix",
            ],
        )
    ]
