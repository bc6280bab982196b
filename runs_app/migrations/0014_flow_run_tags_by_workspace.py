"""The GIN index on flow-run tags keys each tag by its run's workspace (PostgreSQL only).

``ix_fr_tags_gin`` held one posting list per tag for all workspaces: a ``tags all_``
filter read every workspace's runs of a common tag, even when the rest of the query was
narrowed to one workspace. ``ix_fr_ws_tags_gin`` indexes ``{"<workspace_id>": tags}``
(``orion_project.db.WorkspaceTagsContainAll`` writes the matching condition), so the
posting lists read are the workspace's own. Task runs keep ``ix_tr_tags_gin``.
"""

from django.db import migrations

from orion_project.migration_ops import postgres_only_sql


class Migration(migrations.Migration):
    dependencies = [("runs_app", "0013_history_scatter_covering_index")]

    operations = [
        postgres_only_sql(
            [
                "CREATE INDEX IF NOT EXISTS ix_fr_ws_tags_gin ON runs_app_flowrun "
                "USING gin (jsonb_set('{}'::jsonb, ARRAY[workspace_id::text], tags) jsonb_path_ops)",
                "DROP INDEX IF EXISTS ix_fr_tags_gin",
            ],
            [
                "CREATE INDEX IF NOT EXISTS ix_fr_tags_gin ON runs_app_flowrun USING gin (tags jsonb_path_ops)",
                "DROP INDEX IF EXISTS ix_fr_ws_tags_gin",
            ],
        )
    ]
