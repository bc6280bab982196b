"""Runs, task runs, states, logs and tag concurrency limits of one workspace, seen and
changed from another (issue #21).

Everything is created in workspace ``a`` through ``/api/workspaces/a/...`` and asked for
through ``/api/workspaces/b/...``: an id of ``a`` answers exactly as an unknown id, lists
and counts leave it out, a change from ``b`` changes nothing, and tags, cache keys, flow
names and idempotency keys may repeat across the two without meeting.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from orion_project.models import Workspace
from orion_project.prepared import CompiledQuery
from runs_app.models import ConcurrencyLimit, FlowRun, FlowRunState, Log, TaskRun, TaskRunState
from tests.factories import DeploymentFactory, FlowFactory
from tests.helpers import WorkspaceApi, flow_run_write_statements, write_statements

pytestmark = pytest.mark.django_db


class RunsApi(WorkspaceApi):
    """A workspace's API with the run helpers of these tests."""

    def __init__(self, client: Client, workspace: Workspace) -> None:
        super().__init__(client, workspace.slug, workspace)

    def flow_run(self, state_type: str | None = None, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"flow_id": str(FlowFactory(workspace_id=self.workspace.id).id), **fields}
        if state_type is not None:
            body["state"] = {"type": state_type}
        response = self.post("/flow_runs/", body)
        assert response.status_code == 201, response.content
        return response.json()  # type: ignore[no-any-return]

    def task_run(self, flow_run: dict[str, Any], state_type: str | None = None, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"flow_run_id": flow_run["id"], "task_key": uuid.uuid4().hex, "dynamic_key": "0"}
        if state_type is not None:
            body["state"] = {"type": state_type}
        response = self.post("/task_runs/", {**body, **fields})
        assert response.status_code == 201, response.content
        return response.json()  # type: ignore[no-any-return]

    def propose(self, kind: str, run_id: str, state: dict[str, Any], force: bool = False) -> Any:
        return self.post(f"/{kind}/{run_id}/set_state", {"state": state, "force": force})


def _workspace(slug: str) -> Workspace:
    return Workspace.objects.create(slug=slug)


@pytest.fixture
def a(client: Client) -> RunsApi:
    return RunsApi(client, _workspace("a"))


@pytest.fixture
def b(client: Client) -> RunsApi:
    return RunsApi(client, _workspace("b"))


def _answer(response: Any) -> tuple[int, Any]:
    return response.status_code, response.json() if response.content else None


def _same_as_unknown(b: RunsApi, method: str, path: str, foreign_id: str, body: Any = None) -> tuple[int, Any]:
    """``b``'s answer for ``path`` with ``foreign_id``, checked equal to its answer for an
    id no workspace has (but for the id itself, which a message may repeat)."""
    unknown_id = str(uuid.uuid4())
    foreign = _answer(b.request(method, path.format(foreign_id), body))
    unknown = _answer(b.request(method, path.format(unknown_id), body))
    assert json.dumps(foreign).replace(foreign_id, "<id>") == json.dumps(unknown).replace(unknown_id, "<id>"), path
    return foreign


# ---------------------------------------------------------------------------- flow runs


def test_a_flow_run_of_a_is_unknown_to_b(a: RunsApi, b: RunsApi) -> None:
    run = a.flow_run("RUNNING", tags=["t"])
    assert a.get(f"/flow_runs/{run['id']}").status_code == 200
    assert _same_as_unknown(b, "get", "/flow_runs/{}", run["id"])[0] == 404

    assert [found["id"] for found in a.post("/flow_runs/filter", {}).json()] == [run["id"]]
    assert a.post("/flow_runs/count", {}).json() == 1
    by_id = {"flow_runs": {"id": {"any_": [run["id"]]}}}
    assert b.post("/flow_runs/filter", by_id).json() == []
    assert b.post("/flow_runs/count", by_id).json() == 0
    # Counts the rollup answers: the workspace's all-flows rows, and a flow's rows.
    running = {"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}
    of_flow = {"flows": {"id": {"any_": [run["flow_id"]]}}}
    assert (a.post("/flow_runs/count", running).json(), a.post("/flow_runs/count", of_flow).json()) == (1, 1)
    assert (b.post("/flow_runs/count", running).json(), b.post("/flow_runs/count", of_flow).json()) == (0, 0)
    assert b.get("/flow_runs/?tags__all=t").json() == []
    assert b.post("/ui/flow_runs/history", {}).json() == []
    assert b.post("/flow_runs/lateness", by_id).json() is None


def test_b_cannot_change_or_delete_a_flow_run_of_a(a: RunsApi, b: RunsApi) -> None:
    run = a.flow_run("RUNNING", name="mine")
    assert _same_as_unknown(b, "patch", "/flow_runs/{}", run["id"], {"name": "theirs"})[0] == 404
    assert _same_as_unknown(b, "delete", "/flow_runs/{}", run["id"])[0] == 404
    set_state = {"state": {"type": "COMPLETED"}, "force": True}
    assert _same_as_unknown(b, "post", "/flow_runs/{}/set_state", run["id"], set_state)[0] == 404
    assert _same_as_unknown(b, "post", "/flow_runs/{}/resume", run["id"])[0] == 404

    stored = FlowRun.objects.get(pk=run["id"])
    assert (stored.name, stored.state_type, stored.run_count) == ("mine", "RUNNING", 1)
    assert FlowRunState.objects.filter(flow_run_id=run["id"]).count() == 1
    # ... and ``a`` still changes it.
    assert a.propose("flow_runs", run["id"], {"type": "COMPLETED"}).status_code == 201


def test_a_flow_run_in_b_cannot_point_at_rows_of_a(a: RunsApi, b: RunsApi) -> None:
    flow_a = FlowFactory(workspace_id=a.workspace.id)
    deployment_a = DeploymentFactory(workspace_id=a.workspace.id, flow=flow_a)
    parent_task = a.task_run(a.flow_run("RUNNING"))
    flow_b = str(FlowFactory(workspace_id=b.workspace.id).id)

    def create_in_b(**fields: Any) -> tuple[int, Any]:
        return _answer(b.post("/flow_runs/", {"flow_id": flow_b, **fields}))

    unknown = create_in_b(deployment_id=str(uuid.uuid4()))
    assert unknown[0] == 409
    assert _answer(b.post("/flow_runs/", {"flow_id": str(flow_a.id)})) == unknown
    assert create_in_b(deployment_id=str(deployment_a.id)) == unknown
    assert create_in_b(parent_task_run_id=parent_task["id"]) == unknown
    assert not FlowRun.objects.filter(workspace_id=b.workspace.id).exists()


def test_the_same_flow_name_and_idempotency_key_in_both(a: RunsApi, b: RunsApi) -> None:
    flow_a = str(FlowFactory(workspace_id=a.workspace.id, name="etl").id)
    flow_b = str(FlowFactory(workspace_id=b.workspace.id, name="etl").id)

    first = a.post("/flow_runs/", {"flow_id": flow_a, "idempotency_key": "nightly"})
    other = b.post("/flow_runs/", {"flow_id": flow_b, "idempotency_key": "nightly"})
    again = a.post("/flow_runs/", {"flow_id": flow_a, "idempotency_key": "nightly"})
    assert (first.status_code, other.status_code, again.status_code) == (201, 201, 200)
    assert again.json()["id"] == first.json()["id"] != other.json()["id"]
    assert [run["id"] for run in b.post("/flow_runs/filter", {}).json()] == [other.json()["id"]]
    # A's flow named in B's workspace is as unknown as any other id, its key too.
    refused = b.post("/flow_runs/", {"flow_id": flow_a, "idempotency_key": "nightly"})
    assert refused.status_code == 409


# ---------------------------------------------------------------------------- task runs


def test_a_task_run_of_a_is_unknown_to_b(a: RunsApi, b: RunsApi) -> None:
    flow_run = a.flow_run("RUNNING")
    task = a.task_run(flow_run, "RUNNING", name="t1")
    assert _same_as_unknown(b, "get", "/task_runs/{}", task["id"])[0] == 404
    assert _same_as_unknown(b, "patch", "/task_runs/{}", task["id"], {"name": "renamed"})[0] == 404
    assert _same_as_unknown(b, "delete", "/task_runs/{}", task["id"])[0] == 404
    completed = {"state": {"type": "COMPLETED"}}
    assert _same_as_unknown(b, "post", "/task_runs/{}/set_state", task["id"], completed)[0] == 404

    stored = TaskRun.objects.get(pk=task["id"])
    assert (stored.name, stored.state_type) == ("t1", "RUNNING")
    assert TaskRunState.objects.filter(task_run_id=task["id"]).count() == 1

    by_flow_run = {"flow_runs": {"id": {"any_": [flow_run["id"]]}}}
    assert len(a.post("/task_runs/filter", by_flow_run).json()) == 1
    assert b.post("/task_runs/filter", by_flow_run).json() == []
    assert b.post("/task_runs/count", {}).json() == 0
    assert a.post("/ui/task_runs/count", {}).json()["RUNNING"] == 1
    assert set(b.post("/ui/task_runs/count", {}).json().values()) == {0}
    # A task run in ``b`` cannot join ``a``'s flow run: the same 409 as an unknown flow run.
    body = {"task_key": "k", "dynamic_key": "0"}
    foreign = _answer(b.post("/task_runs/", {**body, "flow_run_id": flow_run["id"]}))
    assert foreign == _answer(b.post("/task_runs/", {**body, "flow_run_id": str(uuid.uuid4())}))
    assert foreign[0] == 409


# ------------------------------------------------------------------------------- states


def test_states_of_a_are_unknown_to_b(a: RunsApi, b: RunsApi) -> None:
    flow_run = a.flow_run("RUNNING")
    task = a.task_run(flow_run, "RUNNING")
    for kind, run in (("flow_run", flow_run), ("task_run", task)):
        history = a.get(f"/{kind}_states/?{kind}_id={run['id']}").json()
        assert [state["id"] for state in history] == [run["state"]["id"]]
        assert b.get(f"/{kind}_states/?{kind}_id={run['id']}").json() == []
        assert _same_as_unknown(b, "get", f"/{kind}_states/{{}}", run["state"]["id"])[0] == 404
        assert a.get(f"/{kind}_states/{run['state']['id']}").status_code == 200


# --------------------------------------------------------------------------------- logs


def _log(message: str, flow_run_id: str) -> dict[str, Any]:
    return {
        "name": "n",
        "level": 20,
        "message": message,
        "timestamp": "2024-01-01T00:00:00Z",
        "flow_run_id": flow_run_id,
    }


def test_logs_are_read_in_their_workspace_only(a: RunsApi, b: RunsApi) -> None:
    run = a.flow_run("RUNNING")
    assert a.post("/logs/", [_log("from a", run["id"])]).status_code == 201
    # ``b`` may name ``a``'s run: the line is ``b``'s and never shows in ``a``.
    assert b.post("/logs/", [_log("from b", run["id"])]).status_code == 201
    assert set(Log.objects.values_list("message", "workspace_id")) == {
        ("from a", a.workspace.id),
        ("from b", b.workspace.id),
    }
    of_run = {"logs": {"flow_run_id": {"any_": [run["id"]]}}}
    assert [log["message"] for log in a.post("/logs/filter", of_run).json()] == ["from a"]
    assert [log["message"] for log in b.post("/logs/filter", of_run).json()] == ["from b"]
    assert [log["message"] for log in b.post("/logs/filter", {}).json()] == ["from b"]


# --------------------------------------------------------------------- tag concurrency limits


def test_a_tag_limit_of_a_is_unknown_to_b_and_unchanged_by_it(a: RunsApi, b: RunsApi) -> None:
    limit = a.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 1}).json()
    assert _same_as_unknown(b, "get", "/concurrency_limits/{}", limit["id"])[0] == 404
    assert _same_as_unknown(b, "delete", "/concurrency_limits/{}", limit["id"])[0] == 404
    assert _answer(b.get("/concurrency_limits/tag/db")) == _answer(b.get("/concurrency_limits/tag/nothing"))
    assert b.get("/concurrency_limits/tag/db").status_code == 404
    assert b.delete("/concurrency_limits/tag/db").status_code == 404
    reset = {"slot_override": [str(uuid.uuid4())]}
    assert b.post("/concurrency_limits/tag/db/reset", reset).status_code == 404
    assert b.post("/concurrency_limits/filter", {}).json() == []
    assert a.get("/concurrency_limits/tag/db").json() == limit

    # ``b`` may limit the same tag: its own limit, beside ``a``'s.
    own = b.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 5}).json()
    assert own["id"] != limit["id"]
    assert ConcurrencyLimit.objects.get(pk=limit["id"]).concurrency_limit == 1


def test_a_tag_limit_of_a_does_not_limit_task_runs_of_b(a: RunsApi, b: RunsApi) -> None:
    a.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 1})
    flow_run_a, flow_run_b = a.flow_run("RUNNING"), b.flow_run("RUNNING")
    holder = a.task_run(flow_run_a, tags=["db"])
    assert a.propose("task_runs", holder["id"], {"type": "RUNNING"}).json()["status"] == "ACCEPT"
    waiting = a.task_run(flow_run_a, tags=["db"])
    assert a.propose("task_runs", waiting["id"], {"type": "RUNNING"}).json()["status"] == "WAIT"

    for _ in range(2):
        task = b.task_run(flow_run_b, tags=["db"])
        assert b.propose("task_runs", task["id"], {"type": "RUNNING"}).json()["status"] == "ACCEPT"
        assert b.propose("task_runs", task["id"], {"type": "COMPLETED"}).json()["status"] == "ACCEPT"
    assert a.get("/concurrency_limits/tag/db").json()["active_slots"] == [holder["id"]]


def test_a_limit_of_b_does_not_count_a_slot_naming_a_task_run_of_a(a: RunsApi, b: RunsApi) -> None:
    """A slot of ``b`` naming ``a``'s running task run is held by no one in ``b``: the
    next acquisition in ``b`` frees it as stale."""
    running_a = a.task_run(a.flow_run("RUNNING"), "RUNNING")
    b.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 1})
    b.post("/concurrency_limits/tag/db/reset", {"slot_override": [running_a["id"]]})
    task = b.task_run(b.flow_run("RUNNING"), tags=["db"])
    assert b.propose("task_runs", task["id"], {"type": "RUNNING"}).json()["status"] == "ACCEPT"
    assert b.get("/concurrency_limits/tag/db").json()["active_slots"] == [task["id"]]


# ------------------------------------------------------------------------------- cache


def test_a_cached_state_of_a_is_not_reused_in_b(a: RunsApi, b: RunsApi) -> None:
    flow_run_a, flow_run_b = a.flow_run("RUNNING"), b.flow_run("RUNNING")
    first = a.task_run(flow_run_a, "RUNNING")
    cached = {"type": "COMPLETED", "data": {"result": 42}, "state_details": {"cache_key": "ck"}}
    assert a.propose("task_runs", first["id"], cached).status_code == 201

    running = {"type": "RUNNING", "state_details": {"cache_key": "ck"}}
    in_b = b.task_run(flow_run_b, "PENDING")
    answer = b.propose("task_runs", in_b["id"], running).json()
    assert (answer["status"], answer["state"]["name"]) == ("ACCEPT", "Running")
    in_a = a.task_run(flow_run_a, "PENDING")
    answer = a.propose("task_runs", in_a["id"], running).json()
    assert (answer["status"], answer["state"]["name"]) == ("REJECT", "Cached")


# ---------------------------------------------------------------------- statements per request


def test_a_workspace_costs_the_hot_path_one_statement_at_the_door(a: RunsApi, django_assert_num_queries: Any) -> None:
    """The statements of ``tests/runs/test_hot_path_statements.py`` plus the one read of
    the workspace by its slug: the workspace condition is in the statements already there.
    (A write's count includes its audit row, as there.)"""
    flow_id = str(FlowFactory(workspace_id=a.workspace.id).id)
    # A flow run's state event: its INSERTs and its hourly count (what it names was read by
    # the create), WITH items of the state's own statement on PostgreSQL.
    event = 0 if connection.vendor == "postgresql" else 3
    with django_assert_num_queries(1 + 3 + flow_run_write_statements() + event + 1):
        run = a.post("/flow_runs/", {"flow_id": flow_id}).json()
    with django_assert_num_queries(1 + 4 + flow_run_write_statements() + event + 1):
        assert a.propose("flow_runs", run["id"], {"type": "RUNNING"}).status_code == 201
    with django_assert_num_queries(1 + 1):
        assert a.get(f"/flow_runs/{run['id']}").status_code == 200
    with django_assert_num_queries(1 + 1):
        assert a.post("/flow_runs/count", {"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}).json() == 1
    with django_assert_num_queries(1 + 1):
        assert len(a.post("/flow_runs/filter", {}).json()) == 1
    with django_assert_num_queries(1 + 3 + write_statements() + 1):
        task = a.post("/task_runs/", {"flow_run_id": run["id"], "task_key": "t", "dynamic_key": "0"}).json()
    with django_assert_num_queries(1 + 5 + write_statements() + 1):
        assert a.propose("task_runs", task["id"], {"type": "RUNNING"}).json()["status"] == "ACCEPT"
    with django_assert_num_queries(1 + 1 + 1):
        assert a.post("/logs/", [_log(f"m{i}", run["id"]) for i in range(50)]).status_code == 201


def test_a_page_statement_is_compiled_per_workspace(a: RunsApi, b: RunsApi, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same body read in two workspaces is two statements, each with its workspace
    condition; read again, neither is compiled anew."""
    compiled: list[str] = []
    compile_query = CompiledQuery.of.__func__  # type: ignore[attr-defined]

    def counting(cls: type[CompiledQuery[Any]], queryset: Any, alias: str | None = None) -> Any:
        statement = compile_query(cls, queryset, alias)
        compiled.append(statement.sql)
        return statement

    monkeypatch.setattr(CompiledQuery, "of", classmethod(counting))
    runs = {workspace.workspace.slug: workspace.flow_run("RUNNING")["id"] for workspace in (a, b)}
    body = {"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}, "sort": "EXPECTED_START_TIME_DESC"}
    for _ in range(2):
        for workspace in (a, b):
            listed = workspace.post("/flow_runs/filter", body).json()
            assert [run["id"] for run in listed] == [runs[workspace.workspace.slug]]
    assert len(compiled) == 2
    assert all("workspace_id" in sql for sql in compiled)
