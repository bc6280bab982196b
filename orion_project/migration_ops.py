"""Migration helpers for SQL that only PostgreSQL understands (GIN indexes ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import migrations


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
