"""Flow-run input, ``graph-v2`` and the dashboard counts (2.20), against the 2.20 reference."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from runs_app.models import FlowRun, TaskRun
from tests.factories import FlowFactory
from tests.helpers import ApiClient

MISSING_RUN = "00000000-0000-4000-8000-000000000000"


def _flow_run(api: ApiClient, **body: object) -> dict:
    flow = FlowFactory()
    return api.post("/flow_runs/", {"flow_id": str(flow.id), **body}).json()


def test_inputs_are_written_once_read_as_text_filtered_by_prefix_and_deleted(api: ApiClient) -> None:
    run = _flow_run(api)
    base = f"/flow_runs/{run['id']}/input"
    created = api.post(base, {"key": "k1", "value": '"v"'})
    assert (created.status_code, created.json()) == (201, None)
    conflict = api.post(base, {"key": "k1", "value": '"v"'})
    assert (conflict.status_code, conflict.json()) == (
        409,
        {"detail": "A flow run input with this key already exists."},
    )
    assert api.post(base, {"key": "k2", "value": 2, "sender": "me"}).status_code == 201
    assert api.post(base, {"key": "k5", "value": "1", "bogus": 1}).status_code == 201  # unknown keys ignored

    read = api.get(f"{base}/k1")
    assert (read.status_code, read.content, read["Content-Type"].split(";")[0]) == (200, b'"v"', "text/plain")
    assert api.get(f"{base}/k2").content == b"2"
    assert api.get(f"{base}/nope").json() == {"detail": "Flow run input not found"}

    [first] = api.post(f"{base}/filter", {"prefix": "k"}).json()  # limit defaults to 1, oldest first
    assert set(first) == {"id", "created", "updated", "flow_run_id", "key", "value", "sender"}
    assert (first["key"], first["value"], first["sender"]) == ("k1", '"v"', None)
    rest = api.post(f"{base}/filter", {"prefix": "k", "limit": 10, "exclude_keys": ["k1"]}).json()
    assert [(row["key"], row["sender"]) for row in rest] == [("k2", "me"), ("k5", None)]

    assert api.delete(f"{base}/k1").status_code == 204
    assert api.delete(f"{base}/k1").json() == {"detail": "Flow run input not found"}


def test_input_validation(api: ApiClient) -> None:
    run = _flow_run(api)
    base = f"/flow_runs/{run['id']}/input"
    errors = api.post(base, {"key": "k3", "value": {"a": 1}}).json()["exception_detail"]
    assert errors == [{"loc": ["body", "value"], "msg": "byte type expected", "type": "type_error.bytes"}]
    errors = api.post(base, {"key": "k4"}).json()["exception_detail"]
    assert errors == [{"loc": ["body", "value"], "msg": "field required", "type": "value_error.missing"}]
    errors = api.post(f"{base}/filter", {}).json()["exception_detail"]
    assert errors == [{"loc": ["body", "prefix"], "msg": "field required", "type": "value_error.missing"}]
    # The reference answers 500 here (its core model rejects the key); a 422 says why.
    response = api.post(base, {"key": "Bad Key", "value": "1"})
    assert response.status_code == 422
    missing = api.post(f"/flow_runs/{MISSING_RUN}/input", {"key": "k1", "value": "1"})
    assert (missing.status_code, missing.json()) == (404, {"detail": "Flow run not found"})


def test_graph_v2_of_a_run_without_tasks(api: ApiClient) -> None:
    run = _flow_run(api)
    graph = api.get(f"/flow_runs/{run['id']}/graph-v2").json()
    [state] = graph.pop("states")
    assert (state["id"], state["type"], state["name"]) == (run["state"]["id"], "PENDING", "Pending")
    assert graph == {
        "start_time": run["expected_start_time"],
        "end_time": None,
        "root_node_ids": [],
        "nodes": [],
        "artifacts": [],
    }
    missing = api.get(f"/flow_runs/{MISSING_RUN}/graph-v2")
    assert (missing.status_code, missing.json()) == (404, {"exception_message": f"Flow run {MISSING_RUN} not found"})
    assert api.get("/flow_runs/abc/graph-v2").json() == {"detail": "Not Found"}


def test_graph_v2_nodes_edges_subflows_and_artifacts(api: ApiClient) -> None:
    run = _flow_run(api, state={"type": "RUNNING"})
    start = timezone.now() - dt.timedelta(minutes=5)

    def task(key: str, inputs: dict, state: str = "COMPLETED", minutes: int = 0) -> dict:
        body = {"flow_run_id": run["id"], "task_key": key, "dynamic_key": "0", "task_inputs": inputs}
        created = api.post("/task_runs/", body).json()
        TaskRun.objects.filter(pk=created["id"]).update(
            state_type=state, start_time=start + dt.timedelta(minutes=minutes), name=key
        )
        return created

    upstream = task("upstream", {})
    downstream = task("downstream", {"x": [{"input_type": "task_run", "id": upstream["id"]}]}, minutes=1)
    pending = task("pending", {}, state="PENDING", minutes=2)
    parent_task = task("sub", {}, state="RUNNING", minutes=3)
    subflow = api.post(
        "/flow_runs/", {"flow_id": run["flow_id"], "parent_task_run_id": parent_task["id"], "name": "child"}
    ).json()
    FlowRun.objects.filter(pk=subflow["id"]).update(state_type="RUNNING")
    TaskRun.objects.filter(pk=parent_task["id"]).update(state_type="RUNNING")
    artifact = api.post(
        "/artifacts/", {"key": "k", "type": "table", "flow_run_id": run["id"], "task_run_id": downstream["id"]}
    ).json()
    api.post("/artifacts/", {"type": "result", "flow_run_id": run["id"]})  # results are not drawn
    on_run = api.post("/artifacts/", {"type": "markdown", "flow_run_id": run["id"]}).json()

    graph = api.get(f"/flow_runs/{run['id']}/graph-v2").json()
    nodes = dict((node_id, node) for node_id, node in graph["nodes"])
    assert list(nodes) == [upstream["id"], downstream["id"], subflow["id"]]
    assert pending["id"] not in nodes
    assert graph["root_node_ids"] == [upstream["id"], subflow["id"]]
    assert nodes[upstream["id"]]["children"] == [{"id": downstream["id"]}]
    assert nodes[downstream["id"]]["parents"] == [{"id": upstream["id"]}]
    assert (nodes[subflow["id"]]["kind"], nodes[subflow["id"]]["state_type"]) == ("flow-run", "RUNNING")
    assert nodes[subflow["id"]]["label"].endswith(" / child")
    assert [a["id"] for a in nodes[downstream["id"]]["artifacts"]] == [artifact["id"]]
    assert nodes[downstream["id"]]["artifacts"][0]["is_latest"] is True
    assert [a["id"] for a in graph["artifacts"]] == [on_run["id"]]
    # Nodes that ended before ``since`` are left out.
    TaskRun.objects.filter(pk=upstream["id"]).update(end_time=start)
    response = api.get(
        f"/flow_runs/{run['id']}/graph-v2?since={(start + dt.timedelta(seconds=1)).isoformat().replace('+', '%2B')}"
    )
    assert [node_id for node_id, _ in response.json()["nodes"]] == [downstream["id"], subflow["id"]]
    bad = api.get(f"/flow_runs/{run['id']}/graph-v2?since=nope")
    assert bad.json()["exception_detail"] == [
        {"loc": ["query", "since"], "msg": "invalid datetime format", "type": "value_error.datetime"}
    ]


def test_dashboard_counts_need_a_start_and_bucket_finished_runs(api: ApiClient) -> None:
    response = api.post("/ui/task_runs/dashboard/counts", {})
    assert response.json()["exception_detail"] == [
        {"loc": ["body", "task_runs"], "msg": "field required", "type": "value_error.missing"}
    ]
    response = api.post("/ui/task_runs/dashboard/counts", {"task_runs": {}})
    assert (response.status_code, response.json()) == (422, {"detail": "task_runs.start_time.after_ is required"})

    run = _flow_run(api)
    after = dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC)
    before = dt.datetime(2026, 1, 1, 0, 19, tzinfo=dt.UTC)  # 20 minutes to the end of 00:19 → 1 minute buckets
    for index, (minute, state) in enumerate(
        [(0, "COMPLETED"), (0, "FAILED"), (5, "CRASHED"), (5, "RUNNING"), (18, "CANCELLED")]
    ):
        created = api.post(
            "/task_runs/", {"flow_run_id": run["id"], "task_key": f"t{index}", "dynamic_key": "0"}
        ).json()
        TaskRun.objects.filter(pk=created["id"]).update(
            state_type=state, start_time=after + dt.timedelta(minutes=minute, seconds=30)
        )
    body = {"task_runs": {"start_time": {"after_": after.isoformat(), "before_": before.isoformat()}}}
    counts = api.post("/ui/task_runs/dashboard/counts", body).json()
    assert len(counts) == 20
    assert counts[0] == {"completed": 1, "failed": 1}
    assert counts[5] == {"completed": 0, "failed": 1}
    assert counts[18] == {"completed": 1, "failed": 0}
    assert sum(bucket["completed"] + bucket["failed"] for bucket in counts) == 4
