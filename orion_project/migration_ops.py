"""Migration helpers for SQL that only PostgreSQL understands (GIN indexes ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import migrations
from django.db.migrations.operations import AddIndex


def postgres_only_sql(forward: Sequence[str], reverse: Sequence[str]) -> migrations.RunPython:
    """A migration step that runs ``forward`` / ``reverse`` statements on PostgreSQL only."""

    def run(statements: Sequence[str]) -> Any:
        def apply(apps: Any, schema_editor: Any) -> None:
            if schema_editor.connection.vendor != "postgresql":
                return
            for statement in statements:
                schema_editor.execute(statement)

        return apply

    return migrations.RunPython(run(forward), run(reverse))


def foreign_key_index_dropped(
    app_label: str, model_name: str, field_name: str, field: Any
) -> migrations.SeparateDatabaseAndState:
    """``AlterField`` of a foreign key to ``db_index=False``, done as a bare ``DROP INDEX``.

    Django's own ``AlterField`` also drops and re-adds the foreign-key constraint, and
    adding it back checks every row under an exclusive lock: minutes on a table of
    millions of runs. Here only the index goes (the reverse creates it again).
    """

    def index(apps: Any, schema_editor: Any) -> tuple[str, str, str]:
        model = apps.get_model(app_label, model_name)
        table, column = model._meta.db_table, model._meta.get_field(field_name).column
        return table, column, schema_editor._create_index_name(table, [column], suffix="")

    def drop(apps: Any, schema_editor: Any) -> None:
        name = index(apps, schema_editor)[2]
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def create(apps: Any, schema_editor: Any) -> None:
        table, column, name = (schema_editor.quote_name(part) for part in index(apps, schema_editor))
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")

    return migrations.SeparateDatabaseAndState(
        database_operations=[migrations.RunPython(drop, create)],
        state_operations=[migrations.AlterField(model_name=model_name, name=field_name, field=field)],
    )


class AddIndexConcurrently(AddIndex):
    """``AddIndex``, built without blocking writes on PostgreSQL (the migration is not atomic)."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor != "postgresql":
            schema_editor.add_index(model, self.index)
            return
        schema_editor.add_index(model, self.index, concurrently=True)
        schema_editor.execute(f"VACUUM (ANALYZE) {schema_editor.quote_name(model._meta.db_table)}")
