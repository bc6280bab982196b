"""``orion_project.prepared.ByPrimaryKey`` answers exactly what the ORM answers, in one
statement, and the read routes built on it render the same JSON as the ORM path."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orion_project import prepared
from orion_project.models import DEFAULT_WORKSPACE_ID
from orion_project.prepared import ByPrimaryKey
from runs_app.models import FlowRun
from tests.helpers import ApiClient, make_flow_run, make_task_run

pytestmark = pytest.mark.django_db

JOINS = ("state", "work_queue__work_pool")


def _queued_run(api: ApiClient) -> dict:
    """A run of a deployment, so that its queue and pool are joined rows."""
    flow = api.post("/flows/", {"name": "prepared"}).json()
    deployment = api.post(
        "/deployments/", {"name": "d", "flow_id": flow["id"], "work_queue_name": "prepared-queue", "tags": ["a"]}
    ).json()
    response = api.post(
        f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {"x": [1, {"y": None}]}, "tags": ["b"]}
    )
    assert response.status_code == 201, response.content
    run = response.json()
    assert run["work_queue_id"] and run["work_pool_name"] == "default-agent-pool", run
    return run  # type: ignore[no-any-return]


def test_the_prepared_read_returns_the_orm_object_with_its_joined_rows(api: ApiClient) -> None:
    run = _queued_run(api)
    queryset = FlowRun.objects.select_related(*JOINS)
    expected = queryset.get(pk=run["id"])
    assert expected.state is not None
    prepared = ByPrimaryKey(queryset)
    for _ in range(2):  # compiled on the first call, reused on the second
        with CaptureQueriesContext(connection) as queries:
            found = prepared.get(uuid.UUID(run["id"]), workspace_id=DEFAULT_WORKSPACE_ID)
        assert len(queries) == 1
        assert found is not None and found.state is not None and found.work_queue is not None
        for field in FlowRun._meta.concrete_fields:
            assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
        assert found.state.type == expected.state.type
        assert found.state.timestamp == expected.state.timestamp
        assert found.work_queue.name == "prepared-queue"
        assert found.work_queue.work_pool.name == "default-agent-pool"
        assert found.parameters == {"x": [1, {"y": None}]}


def test_the_prepared_read_answers_none_for_an_unknown_id(api: ApiClient) -> None:
    assert (
        ByPrimaryKey(FlowRun.objects.select_related(*JOINS)).get(uuid.uuid4(), workspace_id=DEFAULT_WORKSPACE_ID)
        is None
    )


def test_a_run_without_a_queue_reads_with_empty_joins(api: ApiClient) -> None:
    run = make_flow_run(api, "PENDING")
    found = ByPrimaryKey(FlowRun.objects.select_related(*JOINS)).get(
        uuid.UUID(run["id"]), workspace_id=DEFAULT_WORKSPACE_ID
    )
    assert found is not None and found.work_queue is None
    assert found.state is not None and found.state.type == "PENDING"


def _timeless(row: dict) -> dict:
    return {key: value for key, value in row.items() if not key.startswith("estimated_")}


def test_read_routes_render_what_the_filter_route_renders(api: ApiClient) -> None:
    """The filter route still builds its queryset per request: both paths give one JSON."""
    run = _queued_run(api)
    task = make_task_run(api, "RUNNING", flow_run=run)
    one = api.get(f"/flow_runs/{run['id']}").json()
    listed = api.post("/flow_runs/filter", {"flow_runs": {"id": {"any_": [run["id"]]}}}).json()
    # The estimates of a run not yet started or still running grow with the clock.
    assert [_timeless(row) for row in listed] == [_timeless(one)]
    one_task = api.get(f"/task_runs/{task['id']}").json()
    listed_tasks = api.post("/task_runs/filter", {"task_runs": {"id": {"any_": [task["id"]]}}}).json()
    assert [_timeless(row) for row in listed_tasks] == [_timeless(one_task)]
    assert api.get(f"/flow_runs/{uuid.uuid4()}").status_code == 404


def test_routes_and_the_engine_compile_each_read_by_id_once(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """One registry: a run's state is read by the engine and by ``GET /flow_run_states/{id}``
    through one compiled statement, the flow a new run names by another; every read is
    compiled once per process."""
    monkeypatch.setattr(prepared, "_BY_ID", {})
    compiled: list[str] = []
    compile_query = prepared.CompiledQuery.of.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, queryset: Any, alias: str | None = None) -> Any:
        compiled.append(f"{queryset.model.__name__}{' locked' if queryset.query.select_for_update else ''}")
        return compile_query(cls, queryset, alias)

    monkeypatch.setattr(prepared.CompiledQuery, "of", classmethod(counting))
    for _ in range(2):
        run = make_flow_run(api, "PENDING")
        assert api.get(f"/flow_runs/{run['id']}").status_code == 200
        answer = api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}}).json()
        assert api.get(f"/flow_run_states/{answer['state']['id']}").json()["type"] == "RUNNING"
    # No read of what a run's state event names: creating the run read its flow (left on
    # the run), and the run's next states find it among the recently named.
    assert sorted(compiled) == ["Flow", "FlowRun", "FlowRun locked", "FlowRunState"]
