"""Flow-run, task-run, state, log and concurrency-limit routes (reference §A.1, §G)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from runs_app.models import FlowRun, Log, TaskRun
from tests.factories import FlowFactory, FlowRunFactory, TaskRunFactory
from tests.helpers import ApiClient, make_flow_run, make_task_run, propose

FLOW_RUN_KEYS_2_7 = {
    "id", "created", "updated", "name", "flow_id", "state_id", "deployment_id", "work_queue_name",
    "flow_version", "parameters", "idempotency_key", "context", "empirical_policy", "tags",
    "parent_task_run_id", "state_type", "state_name", "run_count", "expected_start_time",
    "next_scheduled_start_time", "start_time", "end_time", "total_run_time", "estimated_run_time",
    "estimated_start_time_delta", "auto_scheduled", "infrastructure_document_id",
    "infrastructure_pid", "created_by", "work_pool_name", "state",
}  # fmt: skip
TASK_RUN_KEYS = {
    "id", "created", "updated", "name", "flow_run_id", "task_key", "dynamic_key", "cache_key",
    "cache_expiration", "task_version", "empirical_policy", "tags", "state_id", "task_inputs",
    "state_type", "state_name", "run_count", "flow_run_run_count", "expected_start_time",
    "next_scheduled_start_time", "start_time", "end_time", "total_run_time", "estimated_run_time",
    "estimated_start_time_delta", "state",
}  # fmt: skip
STATE_DETAIL_KEYS_2_7 = {
    "flow_run_id", "task_run_id", "child_flow_run_id", "scheduled_time", "cache_key",
    "cache_expiration", "untrackable_result", "pause_timeout", "pause_reschedule", "pause_key",
    "refresh_cache",
}  # fmt: skip


def test_create_flow_run_shape(api: ApiClient) -> None:
    # reference example #03
    flow = FlowFactory()
    response = api.post(
        "/flow_runs/",
        {
            "flow_id": str(flow.id),
            "name": "run-1",
            "tags": ["nightly", "demo"],
            "parameters": {"x": 1},
            "idempotency_key": "key-1",
        },
    )
    assert response.status_code == 201
    run = response.json()
    assert FLOW_RUN_KEYS_2_7 <= set(run)
    assert {"deployment_version", "job_variables", "work_queue_id", "work_pool_id"} <= set(run)
    assert (run["name"], run["tags"], run["parameters"]) == ("run-1", ["nightly", "demo"], {"x": 1})
    assert run["empirical_policy"] == {
        "max_retries": 0, "retry_delay_seconds": 0, "retries": None, "retry_delay": None,
        "pause_keys": [], "resuming": False,
    }  # fmt: skip
    assert (run["state_type"], run["state_name"], run["state_id"]) == ("PENDING", "Pending", run["state"]["id"])
    assert STATE_DETAIL_KEYS_2_7 <= set(run["state"]["state_details"])
    assert run["state"]["state_details"]["flow_run_id"] == run["id"]
    assert (run["total_run_time"], run["estimated_run_time"]) == (0.0, 0.0)
    assert run["estimated_start_time_delta"] >= 0


def test_idempotent_flow_run_creation_returns_the_original(api: ApiClient) -> None:
    # reference example #04
    flow = FlowFactory()
    first = api.post("/flow_runs/", {"flow_id": str(flow.id), "name": "run-1", "idempotency_key": "key-1"}).json()
    again = api.post("/flow_runs/", {"flow_id": str(flow.id), "name": "other", "idempotency_key": "key-1"})
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["name"]) == (first["id"], "run-1")
    other_flow = FlowFactory()
    assert api.post("/flow_runs/", {"flow_id": str(other_flow.id), "idempotency_key": "key-1"}).status_code == 201
    assert FlowRun.objects.count() == 2


def test_flow_run_without_name_gets_a_slug(api: ApiClient) -> None:
    run = make_flow_run(api, name="")
    adjective, animal = run["name"].split("-")
    assert adjective and animal


def test_flow_run_for_unknown_flow_is_409(api: ApiClient) -> None:
    # reference example #40
    response = api.post("/flow_runs/", {"flow_id": str(uuid.uuid4())})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Data integrity conflict.")
    assert FlowRun.objects.count() == 0


def test_create_flow_run_validation(api: ApiClient) -> None:
    response = api.post("/flow_runs/", {"flow_id": "nope", "colour": 1})
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["exception_detail"]] == [["body", "flow_id"], ["body", "colour"]]


def test_read_unknown_flow_run(api: ApiClient) -> None:
    # reference example #15
    response = api.get("/flow_runs/00000000-0000-0000-0000-000000000000")
    assert (response.status_code, response.json()) == (404, {"detail": "Flow run not found"})


def test_patch_flow_run(api: ApiClient) -> None:
    run = make_flow_run(api)
    response = api.patch(
        f"/flow_runs/{run['id']}", {"name": "renamed", "infrastructure_pid": "123", "empirical_policy": {"retries": 3}}
    )
    assert response.status_code == 204
    after = api.get(f"/flow_runs/{run['id']}").json()
    assert (after["name"], after["infrastructure_pid"], after["empirical_policy"]["retries"]) == ("renamed", "123", 3)
    response = api.patch(f"/flow_runs/{run['id']}", {"flow_id": str(uuid.uuid4())})
    assert response.status_code == 422
    assert api.patch(f"/flow_runs/{uuid.uuid4()}", {"name": "x"}).status_code == 404


def test_delete_flow_run_cascades(api: ApiClient) -> None:
    task = make_task_run(api)
    flow_run_id = task["flow_run_id"]
    assert api.delete(f"/flow_runs/{flow_run_id}").status_code == 204
    assert not TaskRun.objects.filter(pk=task["id"]).exists()
    assert api.delete(f"/flow_runs/{flow_run_id}").status_code == 404


@pytest.fixture
def runs(db: None) -> dict[str, FlowRun]:
    now = dt.datetime.now(dt.UTC)
    etl = FlowFactory(name="etl", tags=["prod"])
    other = FlowFactory(name="other")
    made = {
        "old-done": FlowRunFactory(flow=etl, name="old-done", state_type="COMPLETED", state_name="Completed",
                                   expected_start_time=now - dt.timedelta(days=3), start_time=now - dt.timedelta(days=3),
                                   end_time=now - dt.timedelta(days=3, seconds=-5), tags=["demo"]),
        "running": FlowRunFactory(flow=etl, name="running", state_type="RUNNING", state_name="Running",
                                  expected_start_time=now - dt.timedelta(hours=1), start_time=now - dt.timedelta(minutes=50),
                                  state_timestamp=now - dt.timedelta(minutes=50),
                                  tags=["demo", "nightly"]),
        "scheduled": FlowRunFactory(flow=other, name="scheduled", state_type="SCHEDULED", state_name="Late",
                                    expected_start_time=now + dt.timedelta(hours=1),
                                    next_scheduled_start_time=now + dt.timedelta(hours=1)),
    }  # fmt: skip
    TaskRunFactory(flow_run=made["running"], name="extract", state_type="FAILED", tags=["db"])
    return made


def run_names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [run["name"] for run in response.json()]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"sort": "EXPECTED_START_TIME_DESC"}, ["scheduled", "running", "old-done"]),
        ({"sort": "EXPECTED_START_TIME_ASC"}, ["old-done", "running", "scheduled"]),
        ({"sort": "NAME_ASC"}, ["old-done", "running", "scheduled"]),
        ({"sort": "NAME_DESC"}, ["scheduled", "running", "old-done"]),
        ({"sort": "START_TIME_DESC"}, ["scheduled", "running", "old-done"]),
        ({"sort": "START_TIME_ASC"}, ["old-done", "running", "scheduled"]),
        (
            {
                "sort": "NEXT_SCHEDULED_START_TIME_ASC",
                "flow_runs": {"next_scheduled_start_time": {"before_": "2100-01-01T00:00:00Z"}},
            },
            ["scheduled"],
        ),
        (
            {"flow_runs": {"state": {"type": {"any_": ["RUNNING", "SCHEDULED"]}}}, "sort": "NAME_ASC"},
            ["running", "scheduled"],
        ),
        ({"flow_runs": {"state": {"name": {"any_": ["Late"]}}}}, ["scheduled"]),
        (
            {
                "flow_runs": {
                    "state": {"operator": "or_", "type": {"any_": ["COMPLETED"]}, "name": {"any_": ["Late"]}}
                },
                "sort": "NAME_ASC",
            },
            ["old-done", "scheduled"],
        ),
        ({"flow_runs": {"tags": {"all_": ["demo", "nightly"]}}}, ["running"]),
        ({"flow_runs": {"tags": {"is_null_": True}}}, ["scheduled"]),
        ({"flow_runs": {"name": {"like_": "RUN"}}}, ["running"]),
        ({"flow_runs": {"start_time": {"is_null_": True}}}, ["scheduled"]),
        (
            {"flow_runs": {"start_time": {"after_": "2000-01-01T00:00:00Z"}}, "sort": "NAME_ASC"},
            ["old-done", "running"],
        ),
        (
            {"flow_runs": {"deployment_id": {"is_null_": True}}, "sort": "NAME_ASC"},
            ["old-done", "running", "scheduled"],
        ),
        ({"flow_runs": {"parent_task_run_id": {"is_null_": False}}}, []),
        ({"flows": {"name": {"like_": "etl"}}, "sort": "NAME_ASC"}, ["old-done", "running"]),
        ({"flows": {"tags": {"all_": ["prod"]}}, "flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}, ["running"]),
        ({"task_runs": {"state": {"type": {"any_": ["FAILED"]}}}}, ["running"]),
        ({"deployments": {}}, []),
    ],
)
def test_flow_run_filters_and_sorts(
    api: ApiClient, runs: dict[str, FlowRun], body: dict[str, Any], expected: list[str]
) -> None:
    assert run_names(api.post("/flow_runs/filter", body)) == expected
    count_body = {k: v for k, v in body.items() if k != "sort"}
    assert api.post("/flow_runs/count", count_body).json() == len(expected)


def test_flow_run_id_not_any(api: ApiClient, runs: dict[str, FlowRun]) -> None:
    body = {"flow_runs": {"id": {"not_any_": [str(runs["running"].id)]}}, "sort": "NAME_ASC"}
    assert run_names(api.post("/flow_runs/filter", body)) == ["old-done", "scheduled"]


def test_flow_run_filter_is_one_query_whatever_the_page(
    api: ApiClient, runs: dict[str, FlowRun], django_assert_num_queries: Any
) -> None:
    for index in range(20):
        FlowRunFactory(flow=runs["running"].flow, name=f"bulk-{index}")
    # One SELECT of runs joined with their current state (and flow for the filter).
    with django_assert_num_queries(1):
        response = api.post("/flow_runs/filter", {"flows": {"name": {"any_": ["etl"]}}, "limit": 50})
    assert len(response.json()) == 22


def test_task_run_filter_is_one_query(api: ApiClient, runs: dict[str, FlowRun], django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        response = api.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [str(runs["running"].id)]}}})
    assert [task["name"] for task in response.json()] == ["extract"]


def test_flow_run_list_query_string(api: ApiClient, runs: dict[str, FlowRun]) -> None:
    assert run_names(api.get("/flow_runs/?state__type=RUNNING,SCHEDULED&sort=NAME_DESC")) == ["scheduled", "running"]
    assert run_names(api.get("/flow_runs/?tags__all=demo&name__like=old")) == ["old-done"]


def test_history_buckets(api: ApiClient, runs: dict[str, FlowRun], django_assert_num_queries: Any) -> None:
    # reference example #14: buckets anchored at history_start, empty buckets listed
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(hours=2)
    body = {
        "history_start": start.isoformat(),
        "history_end": (now + dt.timedelta(hours=2)).isoformat(),
        "history_interval_seconds": 3600,
    }
    # Three statements: the hours each interval takes from the rollup, the minutes it
    # takes of the hours' parts outside it, and from the runs the parts of those minutes
    # outside it and what no taken unit covers (the current minute).
    with django_assert_num_queries(3):
        response = api.post("/flow_runs/history", body)
    assert response.status_code == 200
    intervals = response.json()
    assert len(intervals) == 4
    assert dt.datetime.fromisoformat(intervals[0]["interval_start"]) == start
    assert [len(i["states"]) for i in intervals] == [1, 0, 1, 0]
    running = intervals[0]["states"][0]
    assert (running["state_type"], running["state_name"], running["count_runs"]) == ("RUNNING", "Running", 1)
    assert 2900 < running["sum_estimated_run_time"] < 3100  # running for ~50 minutes, nothing stored
    assert 550 < running["sum_estimated_lateness"] < 650  # started 10 minutes late
    assert intervals[2]["states"][0]["state_name"] == "Late"


def test_history_with_many_buckets_is_still_one_query(
    api: ApiClient, runs: dict[str, FlowRun], django_assert_num_queries: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    # 4 days in 10-minute buckets is 576 intervals: capped at 500 (83 hours), which still
    # reaches "old-done" (3 days ago) but not "running" (1 hour ago).
    body = {
        "history_start": (now - dt.timedelta(days=4)).isoformat(),
        "history_end": now.isoformat(),
        "history_interval_seconds": 600,
    }
    with django_assert_num_queries(1):
        intervals = api.post("/flow_runs/history", body).json()
    assert len(intervals) == 500
    found = [s["state_type"] for i in intervals for s in i["states"]]
    assert found == ["COMPLETED"]


def test_history_interval_below_one_second(api: ApiClient) -> None:
    # reference example #56
    body = {
        "history_start": "2026-01-01T00:00:00Z",
        "history_end": "2026-01-02T00:00:00Z",
        "history_interval_seconds": 0.5,
    }
    response = api.post("/flow_runs/history", body)
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "History interval must not be less than 1 second."},
    )


def test_history_requires_its_bounds(api: ApiClient) -> None:
    response = api.post("/task_runs/history", {"history_interval_seconds": 60})
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["exception_detail"]} == {
        ("body", "history_start"),
        ("body", "history_end"),
    }


def test_ui_flow_run_history_rows(api: ApiClient, runs: dict[str, FlowRun]) -> None:
    # reference example #52
    rows = api.post("/ui/flow_runs/history", {"limit": 2}).json()
    assert [row["id"] for row in rows] == [str(runs["scheduled"].id), str(runs["running"].id)]
    assert set(rows[0]) == {"id", "state_type", "timestamp", "duration", "lateness"}
    assert api.post("/ui/flow_runs/history", {"limit": 1001}).status_code == 422


def test_graph(api: ApiClient) -> None:
    # reference example #24
    flow_run = make_flow_run(api, "RUNNING")
    upstream = make_task_run(api, flow_run=flow_run)
    downstream = make_task_run(
        api,
        flow_run=flow_run,
        task_inputs={
            "x": [{"input_type": "task_run", "id": upstream["id"]}],
            "y": [{"input_type": "task_run", "id": upstream["id"]}, {"input_type": "parameter", "name": "p"}],
        },
    )
    graph = {node["id"]: node for node in api.get(f"/flow_runs/{flow_run['id']}/graph").json()}
    assert graph[downstream["id"]]["upstream_dependencies"] == [{"input_type": "task_run", "id": upstream["id"]}]
    assert graph[upstream["id"]]["upstream_dependencies"] == []
    assert set(graph[upstream["id"]]) == {
        "id", "name", "upstream_dependencies", "state", "expected_start_time", "start_time",
        "end_time", "total_run_time", "estimated_run_time", "untrackable_result",
    }  # fmt: skip
    missing = uuid.uuid4()
    response = api.get(f"/flow_runs/{missing}/graph")
    assert (response.status_code, response.json()) == (
        404,
        {"exception_message": f"Flow run with id {missing} not found"},
    )


def test_task_run_creation_is_idempotent_on_its_keys(api: ApiClient) -> None:
    # reference example #21
    flow_run = make_flow_run(api, "SCHEDULED")
    body = {"flow_run_id": flow_run["id"], "task_key": "extract", "dynamic_key": "0"}
    first = api.post("/task_runs/", body)
    assert first.status_code == 201
    assert TASK_RUN_KEYS <= set(first.json())
    assert (first.json()["state_type"], first.json()["state"]["state_details"]["task_run_id"]) == (
        "PENDING",
        first.json()["id"],
    )
    again = api.post("/task_runs/", {**body, "name": "other"})
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert api.post("/task_runs/", {**body, "dynamic_key": "1"}).status_code == 201


def test_task_run_with_client_chosen_id(api: ApiClient) -> None:
    flow_run = make_flow_run(api, "RUNNING")
    chosen = str(uuid.uuid4())
    body = {"id": chosen, "flow_run_id": flow_run["id"], "task_key": "t", "dynamic_key": "0"}
    assert api.post("/task_runs/", body).json()["id"] == chosen


def test_task_run_routes(api: ApiClient) -> None:
    task = make_task_run(api)
    assert api.get(f"/task_runs/{task['id']}").json()["id"] == task["id"]
    assert api.patch(f"/task_runs/{task['id']}", {"name": "renamed"}).status_code == 204
    assert api.get(f"/task_runs/{task['id']}").json()["name"] == "renamed"
    assert api.patch(f"/task_runs/{task['id']}", {"tags": ["x"]}).status_code == 422
    missing = api.get(f"/task_runs/{uuid.uuid4()}")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Task not found"})
    assert api.post("/task_runs/count", {}).json() == 1
    assert api.delete(f"/task_runs/{task['id']}").status_code == 204
    assert api.delete(f"/task_runs/{task['id']}").status_code == 404


def test_task_run_for_unknown_flow_run_is_409(api: ApiClient) -> None:
    response = api.post("/task_runs/", {"flow_run_id": str(uuid.uuid4()), "task_key": "t", "dynamic_key": "0"})
    assert response.status_code == 409


def test_state_reads(api: ApiClient) -> None:
    run = make_flow_run(api)
    propose(api, "flow_runs", run["id"], {"type": "RUNNING"})
    states = api.get(f"/flow_run_states/?flow_run_id={run['id']}").json()
    assert [s["type"] for s in states] == ["PENDING", "RUNNING"]
    one = api.get(f"/flow_run_states/{states[1]['id']}")
    assert one.json() == states[1]
    assert api.get(f"/flow_run_states/{uuid.uuid4()}").status_code == 404
    missing = api.get("/flow_run_states/")
    assert missing.status_code == 422
    assert missing.json()["exception_detail"][0]["loc"] == ["query", "flow_run_id"]
    assert api.get(f"/flow_run_states/?flow_run_id={uuid.uuid4()}").json() == []
    task = make_task_run(api)
    assert [s["type"] for s in api.get(f"/task_run_states/?task_run_id={task['id']}").json()] == ["PENDING"]


def test_logs_bulk_insert_and_filter(api: ApiClient, django_assert_num_queries: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # reference examples #26-#27
    run_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    logs = [
        {"name": "prefect.flow_runs", "level": 20, "message": f"m{i}", "timestamp": f"2026-11-23T02:29:{10 + i}+00:00",
         "flow_run_id": run_id, "task_run_id": task_id if i % 2 else None}
        for i in range(10)
    ]  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/logs/", logs)
    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 2  # one multi-row INSERT for the whole batch, one of its audit event
    assert (response.status_code, response.json()) == (201, None)
    assert Log.objects.count() == 10
    body = {"logs": {"flow_run_id": {"any_": [run_id]}, "level": {"ge_": 10}}, "sort": "TIMESTAMP_DESC", "limit": 3}
    with django_assert_num_queries(1):
        found = api.post("/logs/filter", body).json()
    assert [log["message"] for log in found] == ["m9", "m8", "m7"]
    assert set(found[0]) == {
        "id",
        "created",
        "updated",
        "name",
        "level",
        "message",
        "timestamp",
        "flow_run_id",
        "task_run_id",
    }
    assert len(api.post("/logs/filter", {"logs": {"task_run_id": {"any_": [task_id]}}}).json()) == 5
    assert len(api.post("/logs/filter", {"logs": {"level": {"le_": 10}}}).json()) == 0


def test_logs_validation_is_all_or_nothing(api: ApiClient) -> None:
    good = {
        "name": "x",
        "level": 20,
        "message": "ok",
        "timestamp": "2026-11-23T02:29:10+00:00",
        "flow_run_id": str(uuid.uuid4()),
    }
    response = api.post("/logs/", [good, {"name": "x"}])
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["loc"][:2] == ["body", 1]
    assert Log.objects.count() == 0
    assert api.post("/logs/", {"not": "a list"}).status_code == 422


def test_concurrency_limit_routes(api: ApiClient) -> None:
    # reference examples #41, #46, #50
    created = api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 1})
    assert created.status_code == 200
    limit = created.json()
    assert set(limit) == {"id", "created", "updated", "tag", "concurrency_limit", "active_slots"}
    updated = api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 5}).json()
    assert (updated["id"], updated["concurrency_limit"]) == (limit["id"], 5)
    assert api.get(f"/concurrency_limits/{limit['id']}").json()["concurrency_limit"] == 5
    assert api.get("/concurrency_limits/tag/db").json()["id"] == limit["id"]
    api.post("/concurrency_limits/", {"tag": "api", "concurrency_limit": 2})
    assert [row["tag"] for row in api.post("/concurrency_limits/filter", {}).json()] == ["api", "db"]
    assert api.post("/concurrency_limits/tag/db/reset", {"slot_override": [str(uuid.uuid4())]}).status_code == 200
    assert len(api.get("/concurrency_limits/tag/db").json()["active_slots"]) == 1
    deleted = api.delete("/concurrency_limits/tag/db")
    assert (deleted.status_code, deleted.json()) == (200, None)
    assert api.get("/concurrency_limits/tag/db").status_code == 404
    deleted = api.delete(f"/concurrency_limits/{api.get('/concurrency_limits/tag/api').json()['id']}")
    assert (deleted.status_code, deleted.json()) == (200, None)
    assert api.delete(f"/concurrency_limits/{uuid.uuid4()}").status_code == 404
    assert api.post("/concurrency_limits/", {"tag": "x", "concurrency_limit": -1}).status_code == 422


def test_average_lateness(api: ApiClient, runs: dict[str, FlowRun]) -> None:
    # old-done started on time, running 10 minutes late, scheduled not yet due: mean 200 s
    lateness = api.post("/flow_runs/lateness", {}).json()
    assert 190 < lateness < 210
    assert api.post("/flow_runs/lateness", {"flow_runs": {"name": {"any_": ["nothing"]}}}).json() is None


def test_ui_task_run_counts_by_state(api: ApiClient, runs: dict[str, FlowRun], django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        counts = api.post("/ui/task_runs/count", {}).json()
    assert counts["FAILED"] == 1
    assert set(counts) == {
        "SCHEDULED",
        "PENDING",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "CRASHED",
        "PAUSED",
        "CANCELLING",
    }
    assert sum(counts.values()) == 1
