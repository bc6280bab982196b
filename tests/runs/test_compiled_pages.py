"""``POST /flow_runs/filter`` and ``/task_runs/filter`` compile a page's SQL once per
distinct body (``orion_project.prepared.PageByBody``); the rows are read live on every request."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orion_project.prepared import CompiledQuery
from tests.helpers import ApiClient, make_flow_run, make_task_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every query ``CompiledQuery.of`` compiles from here on."""
    seen: list[Any] = []
    compile_query = CompiledQuery.of.__func__  # type: ignore[attr-defined]

    def counting(cls: type[CompiledQuery[Any]], queryset: Any, alias: str | None = None) -> Any:
        seen.append(queryset.model.__name__)
        return compile_query(cls, queryset, alias)

    monkeypatch.setattr(CompiledQuery, "of", classmethod(counting))
    return seen


def test_a_runs_task_runs_stay_live_under_one_compiled_statement(api: ApiClient, compilations: list[Any]) -> None:
    run = make_flow_run(api, "RUNNING")
    body = {"flow_runs": {"id": {"any_": [run["id"]]}}, "sort": "EXPECTED_START_TIME_DESC"}
    assert api.post("/task_runs/filter", body).json() == []
    created = []
    for _ in range(3):
        created.append(make_task_run(api, "PENDING", flow_run=run)["id"])
        with CaptureQueriesContext(connection) as queries:
            listed = api.post("/task_runs/filter", body).json()
        assert sorted(row["id"] for row in listed) == sorted(created)
        assert all(row["state"]["type"] == "PENDING" and row["flow_run_id"] == run["id"] for row in listed)
        assert len([q for q in queries.captured_queries if q["sql"].startswith("SELECT")]) == 1
    assert compilations == ["TaskRun"]  # by the first request, before any task run existed


def test_each_body_gets_its_own_statement(api: ApiClient, compilations: list[Any]) -> None:
    runs = [make_flow_run(api, state) for state in ("PENDING", "RUNNING", "COMPLETED")]
    ids = [run["id"] for run in runs]
    everything = {"flow_runs": {"id": {"any_": ids}}, "sort": "ID_DESC"}
    assert [row["id"] for row in api.post("/flow_runs/filter", everything).json()] == sorted(ids, reverse=True)
    paged = {**everything, "limit": 1, "offset": 1}
    assert [row["id"] for row in api.post("/flow_runs/filter", paged).json()] == [sorted(ids, reverse=True)[1]]
    running = {"flow_runs": {"id": {"any_": ids}, "state": {"type": {"any_": ["RUNNING"]}}}}
    assert [row["id"] for row in api.post("/flow_runs/filter", running).json()] == [runs[1]["id"]]
    assert compilations == ["FlowRun"] * 3
    # A body seen before reuses its statement, and reads the run's new state.
    assert api.post(f"/flow_runs/{runs[1]['id']}/set_state", {"state": {"type": "COMPLETED"}}).status_code == 201
    compiled = len(compilations)
    assert api.post("/flow_runs/filter", running).json() == []
    assert len(compilations) == compiled


def test_a_body_that_matches_nothing_runs_no_statement(api: ApiClient) -> None:
    make_flow_run(api, "PENDING")
    body: dict[str, Any] = {"flow_runs": {"id": {"any_": []}}}
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert api.post("/flow_runs/filter", body).json() == []
        assert [q for q in queries.captured_queries if q["sql"].startswith("SELECT")] == []
