"""Work queues, work pools and workers: the routes agents and workers poll (§G.4, 2.20)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flows_app.models import WorkQueue
from runs_app.models import FlowRun
from tests.helpers import ApiClient, make_flow_run


def scheduled_run(api: ApiClient, queue_id: str, minutes: int = -1) -> dict[str, Any]:
    """A SCHEDULED run in ``queue_id`` due ``minutes`` from now."""
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()
    run = make_flow_run(api, state={"type": "SCHEDULED", "state_details": {"scheduled_time": when}})
    FlowRun.objects.filter(pk=run["id"]).update(work_queue_id=queue_id)
    return run


def test_work_queue_routes(api: ApiClient) -> None:
    created = api.post("/work_queues/", {"name": "wq-a", "description": "mine"})
    assert created.status_code == 201
    queue = created.json()
    assert (queue["work_pool_name"], queue["priority"]) == ("default-agent-pool", 2)  # after the seeded "default"
    duplicate = api.post("/work_queues/", {"name": "wq-a"})
    assert (duplicate.status_code, duplicate.json()) == (409, {"detail": "A work queue with this name already exists."})
    assert api.get("/work_queues/name/wq-a").json()["id"] == queue["id"]
    assert api.get("/work_queues/name/nope").status_code == 404
    assert api.patch(f"/work_queues/{queue['id']}", {"is_paused": True, "concurrency_limit": 3}).status_code == 204
    assert api.get(f"/work_queues/{queue['id']}").json()["is_paused"] is True
    assert api.patch(f"/work_queues/{queue['id']}", {"bogus": 1}).status_code == 422
    names = [q["name"] for q in api.post("/work_queues/filter", {}).json()]
    assert names == ["default", "wq-a"]
    assert [
        q["name"] for q in api.post("/work_queues/filter", {"work_queues": {"name": {"startswith_": ["WQ"]}}}).json()
    ] == ["wq-a"]
    assert api.delete(f"/work_queues/{queue['id']}").status_code == 204
    assert api.get(f"/work_queues/{queue['id']}").json() == {"detail": "Work queue not found"}


def test_get_runs_orders_limits_and_records_the_poll(api: ApiClient, django_assert_max_num_queries: Any) -> None:
    queue = api.post("/work_queues/", {"name": "agents"}).json()
    later = scheduled_run(api, queue["id"], minutes=-1)
    sooner = scheduled_run(api, queue["id"], minutes=-5)
    scheduled_run(api, queue["id"], minutes=60)  # not due yet
    body = {"scheduled_before": dt.datetime.now(dt.UTC).isoformat(), "limit": 10}
    # The first poll makes the queue ready (its status event); a poll of a ready queue:
    # the queue, the due runs with state and pool joined, the last_polled updates (queue,
    # deployments), the not-ready deployments the poll makes ready, the audit event.
    api.post(f"/work_queues/{queue['id']}/get_runs", body)
    with django_assert_max_num_queries(6):
        runs = api.post(f"/work_queues/{queue['id']}/get_runs", body).json()
    assert [run["id"] for run in runs] == [sooner["id"], later["id"]]
    assert runs[0]["work_pool_name"] == "default-agent-pool"
    assert WorkQueue.objects.get(pk=queue["id"]).last_polled is not None
    status = api.get(f"/work_queues/{queue['id']}/status").json()
    assert status["healthy"] is True and status["late_runs_count"] == 0


def test_get_runs_honours_concurrency_and_pause(api: ApiClient) -> None:
    queue = api.post("/work_queues/", {"name": "limited", "concurrency_limit": 2}).json()
    for _ in range(3):
        scheduled_run(api, queue["id"])
    busy = make_flow_run(api, "RUNNING")
    FlowRun.objects.filter(pk=busy["id"]).update(work_queue_id=queue["id"])
    assert len(api.post(f"/work_queues/{queue['id']}/get_runs", {}).json()) == 1
    api.patch(f"/work_queues/{queue['id']}", {"is_paused": True})
    assert api.post(f"/work_queues/{queue['id']}/get_runs", {}).json() == []


def test_ui_polls_do_not_count(api: ApiClient) -> None:
    queue = api.post("/work_queues/", {"name": "ui"}).json()
    api.post(f"/work_queues/{queue['id']}/get_runs", {}, HTTP_X_PREFECT_UI="true")
    assert WorkQueue.objects.get(pk=queue["id"]).last_polled is None


def test_get_runs_of_unknown_queue(api: ApiClient) -> None:
    missing = uuid.uuid4()
    response = api.post(f"/work_queues/{missing}/get_runs", {})
    assert (response.status_code, response.json()) == (404, {"exception_message": f"Work queue {missing} not found"})


def test_work_pool_routes(api: ApiClient) -> None:
    created = api.post("/work_pools/", {"name": "probe-pool", "type": "process"})
    assert created.status_code == 201
    pool = created.json()
    assert pool["default_queue_id"] is not None
    assert api.post("/work_pools/", {"name": "probe-pool"}).status_code == 409
    assert api.post("/work_pools/", {"name": "Prefect-pool"}).status_code == 403
    assert api.get("/work_pools/probe-pool").json()["id"] == pool["id"]
    assert api.get("/work_pools/nope").json() == {"detail": "Work pool not found"}
    assert api.patch("/work_pools/probe-pool", {"description": "runs here"}).status_code == 204
    assert [
        p["name"] for p in api.post("/work_pools/filter", {"work_pools": {"type": {"any_": ["process"]}}}).json()
    ] == ["probe-pool"]
    assert api.post("/work_pools/count", {}).json() == 2  # with default-agent-pool
    queue = api.post("/work_pools/probe-pool/queues", {"name": "fast", "priority": 5})
    assert queue.status_code == 201
    assert [q["name"] for q in api.post("/work_pools/probe-pool/queues/filter", {}).json()] == ["default", "fast"]
    assert api.get("/work_pools/probe-pool/queues/fast").json()["priority"] == 5
    assert api.patch("/work_pools/probe-pool/queues/fast", {"is_paused": True}).status_code == 204
    assert api.delete("/work_pools/probe-pool/queues/fast").status_code == 204
    assert api.get("/work_pools/probe-pool/queues/fast").status_code == 404
    assert api.delete("/work_pools/default-agent-pool").status_code == 403
    assert api.delete("/work_pools/probe-pool").status_code == 204


def test_workers_and_the_worker_poll(api: ApiClient) -> None:
    pool = api.post("/work_pools/", {"name": "probe-pool", "type": "process"}).json()
    assert (
        api.post(
            "/work_pools/probe-pool/workers/heartbeat", {"name": "w1", "heartbeat_interval_seconds": 10}
        ).status_code
        == 204
    )
    assert api.post("/work_pools/probe-pool/workers/heartbeat", {"name": "w1"}).status_code == 204
    workers = api.post("/work_pools/probe-pool/workers/filter", {}).json()
    assert [(w["name"], w["status"]) for w in workers] == [("w1", "ONLINE")]
    assert api.get("/work_pools/probe-pool").json()["status"] == "READY"
    due = scheduled_run(api, pool["default_queue_id"])
    scheduled = api.post(
        "/work_pools/probe-pool/get_scheduled_flow_runs", {"scheduled_before": dt.datetime.now(dt.UTC).isoformat()}
    ).json()
    assert [(item["work_queue_id"], item["flow_run"]["id"]) for item in scheduled] == [
        (pool["default_queue_id"], due["id"])
    ]
    assert scheduled[0]["work_pool_id"] == pool["id"]
    api.patch("/work_pools/probe-pool", {"is_paused": True})
    assert api.post("/work_pools/probe-pool/get_scheduled_flow_runs", {}).json() == []
    assert api.delete("/work_pools/probe-pool/workers/w1").status_code == 204
    assert api.delete("/work_pools/probe-pool/workers/w1").status_code == 404


def test_experimental_work_pool_routes_are_disabled_as_in_2_7(api: ApiClient) -> None:
    for method, path in [
        ("post", "/experimental/work_pools/"),
        ("get", "/experimental/work_pools/x"),
        ("post", "/experimental/work_pools/x/workers/heartbeat"),
    ]:
        response = api.request(method, path, {"name": "x"} if method == "post" else None)
        assert (response.status_code, response.json()) == (404, {"detail": "Work pools are not enabled"})


def test_flow_runs_filter_by_work_pool_and_queue(api: ApiClient) -> None:
    pool = api.post("/work_pools/", {"name": "probe-pool"}).json()
    inside = scheduled_run(api, pool["default_queue_id"])
    make_flow_run(api)
    body = {"work_pools": {"name": {"any_": ["probe-pool"]}}}
    assert [run["id"] for run in api.post("/flow_runs/filter", body).json()] == [inside["id"]]
    assert api.post("/flow_runs/count", {"work_pool_queues": {"name": {"any_": ["default"]}}}).json() == 1


def test_work_queue_with_null_description(api: ApiClient) -> None:
    # The 2.20 client sends every field, nulls included.
    body = {
        "name": "nulls",
        "description": None,
        "is_paused": False,
        "concurrency_limit": None,
        "priority": None,
        "filter": None,
    }
    response = api.post("/work_queues/", body)
    assert (response.status_code, response.json()["description"]) == (201, "")


def test_polling_a_queue_makes_its_deployments_ready(api: ApiClient) -> None:
    from tests.factories import FlowFactory

    flow = FlowFactory()
    deployment = api.post("/deployments/", {"name": "d", "flow_id": str(flow.id), "work_queue_name": "polled"}).json()
    assert deployment["status"] == "NOT_READY"
    queue = api.get("/work_queues/name/polled").json()
    api.post(f"/work_queues/{queue['id']}/get_runs", {})
    assert api.get(f"/deployments/{deployment['id']}").json()["status"] == "READY"
