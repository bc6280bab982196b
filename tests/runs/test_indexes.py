"""The run tables carry no index another index already serves.

Every state write rewrites each index of the run's row (the indexed state columns
change, so PostgreSQL cannot update in place), and every transition inserts a state row:
an index whose leading column another index already leads with is paid on each write
and never chosen by the planner.
"""

from __future__ import annotations

import pytest
from django.db import connection

from runs_app.models import FlowRun, FlowRunInput, FlowRunState, TaskRun, TaskRunState

RUN_TABLES = (FlowRun, FlowRunState, TaskRun, TaskRunState, FlowRunInput)


@pytest.mark.django_db
@pytest.mark.parametrize("model", RUN_TABLES, ids=lambda model: model.__name__)
def test_no_single_column_index_duplicates_a_composite_one(model) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    indexes = [
        (name, info["columns"])
        for name, info in constraints.items()
        if (info["index"] or info["unique"]) and not info["primary_key"] and info["columns"]
    ]
    # A partial index (``WHERE state_type = 'SCHEDULED'``) is no substitute for a whole one.
    partial = {index.name for index in model._meta.indexes if index.condition is not None}
    redundant = [
        name
        for name, columns in indexes
        if len(columns) == 1
        and any(
            other != name and other not in partial and len(cols) > 1 and cols[0] == columns[0]
            for other, cols in indexes
        )
    ]
    assert redundant == [], f"{model.__name__}: {redundant}"
