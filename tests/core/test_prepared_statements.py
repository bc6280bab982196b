"""On PostgreSQL the API's statements are bound by the server and prepared on their
connection once used twice, so PostgreSQL stops parsing and planning them per request
(``orion_project.config.database_from_url``; psycopg prepares a statement on the use
after its ``prepare_threshold``-th)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import FlowRunFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepared statements"),
    pytest.mark.django_db,
]


def _prepared_reads_of_flow_runs() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements "
            "WHERE statement LIKE %s AND statement LIKE %s AND NOT from_sql",
            ['SELECT "runs_app_flowrun"."id"%', "%$1%"],
        )
        return cursor.fetchone()[0]


def test_every_execution_is_planned_for_its_own_values(api) -> None:
    """A generic plan cannot see a filter's selectivity (docs/performance.md)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_custom_plan"


def test_reading_runs_prepares_the_statement_once(api) -> None:
    runs = FlowRunFactory.create_batch(4)
    assert _prepared_reads_of_flow_runs() == 0
    answers = [api.get(f"/flow_runs/{run.id}") for run in runs]
    assert [answer.json()["id"] for answer in answers] == [str(run.id) for run in runs]
    assert _prepared_reads_of_flow_runs() == 1
