"""GIN indexes on the JSON ``tags`` columns, which serve ``tags: {all_: [...]}`` filters
(``tags @> '[...]'``) on PostgreSQL. SQLite has no equivalent and skips this step."""

from django.db import migrations

from orion_project.migration_ops import postgres_only_sql


class Migration(migrations.Migration):
    dependencies = [("runs_app", "0001_initial")]

    operations = [
        postgres_only_sql(
            [
                "CREATE INDEX IF NOT EXISTS ix_fr_tags_gin ON runs_app_flowrun "
                "USING gin (tags jsonb_path_ops)",
                "CREATE INDEX IF NOT EXISTS ix_tr_tags_gin ON runs_app_taskrun "
                "USING gin (tags jsonb_path_ops)",
            ],
            [
                "DROP INDEX IF EXISTS ix_fr_tags_gin",
                "DROP INDEX IF EXISTS ix_tr_tags_gin",
            ],
        )
    ]
