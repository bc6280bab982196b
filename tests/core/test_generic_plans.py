"""Reads by primary key run under PostgreSQL's generic plan outside a transaction
(``orion_project.generic_plan``), while every other statement keeps being planned for
its values; the answers are the same either way.

These tests do not run inside a transaction, as a request served by ``orion_start``
does not: inside one, the reads take the usual path (what the rest of the suite sees).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from orion_project.models import Workspace
from runs_app.models import FlowRun
from tests.factories import FlowFactory, FlowRunFactory, WorkQueueFactory
from tests.helpers import ApiClient, WorkspaceApi

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans"),
    pytest.mark.django_db(transaction=True),
]


def _generic_statements() -> list[tuple[str, int, int]]:
    """This connection's statements of the flow-run read: (name, generic plans, custom plans)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE name LIKE 'orion_generic_%%' AND statement LIKE %s",
            ['%FROM "runs_app_flowrun"%'],
        )
        return cursor.fetchall()


def _plan_cache_mode() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        return cursor.fetchone()[0]  # type: ignore[no-any-return]


def _runs(api: ApiClient, count: int) -> list[str]:
    flow = FlowFactory()
    queue = WorkQueueFactory()
    ids = []
    for index in range(count):
        answer = api.post("/flow_runs/", {"flow_id": str(flow.id), "state": {"type": "COMPLETED"}})
        assert answer.status_code == 201, answer.content
        ids.append(answer.json()["id"])
        if index % 2:  # half of them in a pool, so the joined rows are read too
            FlowRun.objects.filter(id=ids[-1]).update(work_queue=queue, work_queue_name=queue.name)
    return ids


def test_a_run_read_by_id_is_planned_once_for_every_id(api: ApiClient) -> None:
    ids = _runs(api, 4)
    for run_id in ids:
        answer = api.get(f"/flow_runs/{run_id}")
        assert answer.status_code == 200
        assert answer.json()["id"] == run_id
    [(_, generic_plans, custom_plans)] = _generic_statements()
    assert (generic_plans, custom_plans) == (4, 0)
    assert _plan_cache_mode() == "force_custom_plan"


def test_the_answer_is_the_one_read_inside_a_transaction(api: ApiClient) -> None:
    ids = _runs(api, 4)
    outside = [api.get(f"/flow_runs/{run_id}").content for run_id in ids]
    with transaction.atomic():
        inside = [api.get(f"/flow_runs/{run_id}").content for run_id in ids]
    assert len(_generic_statements()) == 1
    assert outside == inside
    pooled = [answer for answer in map(_json, outside) if answer["work_pool_name"] is not None]
    assert len(pooled) == 2


def test_a_statement_the_connection_lost_is_prepared_again(api: ApiClient) -> None:
    """psycopg deallocates a connection's statements after a rollback."""
    [run_id] = _runs(api, 1)
    assert api.get(f"/flow_runs/{run_id}").status_code == 200
    with pytest.raises(RuntimeError), transaction.atomic():
        FlowRun.objects.filter(id=run_id).update(name="rolled back")
        raise RuntimeError
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert _generic_statements() == []
    answer = api.get(f"/flow_runs/{run_id}")
    assert answer.status_code == 200
    assert answer.json()["name"] != "rolled back"
    assert len(_generic_statements()) == 1
    assert _plan_cache_mode() == "force_custom_plan"


def test_unknown_and_other_workspaces_runs_are_not_found(api: ApiClient) -> None:
    [run_id] = _runs(api, 1)
    Workspace.objects.create(slug="other")
    other = WorkspaceApi(api.client, "other")
    mine = FlowRunFactory()
    for path, client in (
        (f"/flow_runs/{run_id}", other),
        ("/flow_runs/00000000-0000-4000-8000-000000000000", api),
    ):
        answer = client.get(path)
        assert (answer.status_code, answer.json()) == (404, {"detail": "Flow run not found"})
    assert api.get(f"/flow_runs/{mine.id}").status_code == 200
    assert _plan_cache_mode() == "force_custom_plan"


def _json(content: bytes) -> Any:
    import orjson

    return orjson.loads(content)
