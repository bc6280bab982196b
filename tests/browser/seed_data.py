"""Real data for the browser walk, written through the REST API as the Prefect client does."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class Api:
    """A small JSON client for ``<base>/api`` (the stock client's version header)."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/") + "/api"

    def call(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "X-PREFECT-API-VERSION": "0.8.4"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        if status not in ok:
            raise AssertionError(f"{method} {path} answered {status}: {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, body if body is not None else {}, **kwargs)

    def get(self, path: str) -> Any:
        return self.call("GET", path)


@dataclass
class Seeded:
    flow: dict[str, Any]
    deployment: dict[str, Any]
    completed_run: dict[str, Any]
    running_run: dict[str, Any]
    failed_run: dict[str, Any]
    task_run: dict[str, Any]
    subflow_run: dict[str, Any]
    block_name: str
    concurrency_tag: str
    global_limit: str
    variable: str
    artifact: str
    log_message: str


def _state(api: Api, run_id: str, state_type: str, *, kind: str = "flow_runs", **extra: Any) -> None:
    result = api.post(f"/{kind}/{run_id}/set_state", {"state": {"type": state_type, **extra}})
    assert result["status"] == "ACCEPT", result


def seed(api: Api) -> Seeded:
    """Flows, a deployment, runs in several states with task runs, a sub-flow, logs, a
    block, a tag concurrency limit and a global one, a variable and an artifact."""
    flow = api.post("/flows/", {"name": "etl-warehouse", "tags": ["etl", "prod"]})
    child_flow = api.post("/flows/", {"name": "load-partition", "tags": ["etl"]})
    pool_queue = api.post("/work_pools/default-agent-pool/queues/filter", {})[0]
    deployment = api.post(
        "/deployments/",
        {
            "name": "nightly",
            "flow_id": flow["id"],
            "work_queue_name": pool_queue["name"],
            "work_pool_name": "default-agent-pool",
            "parameters": {"day": "2026-11-28"},
            "parameter_openapi_schema": {
                "title": "Parameters",
                "type": "object",
                "properties": {"day": {"title": "day", "type": "string"}},
            },
            "tags": ["nightly"],
            # What `prefect deploy` sends; the UI offers "Run" only for a deployment with
            # an entrypoint (one without is an old-style deployment it calls deprecated).
            "entrypoint": "flows/etl.py:etl_warehouse",
            "path": "/opt/flows",
        },
    )
    now = dt.datetime.now(dt.UTC)

    def run(name: str, **extra: Any) -> dict[str, Any]:
        return api.post("/flow_runs/", {"flow_id": flow["id"], "name": name, "tags": ["etl"], **extra})

    completed = run("brave-otter", parameters={"day": "2026-11-27", "limit": 500}, deployment_id=deployment["id"])
    _state(api, completed["id"], "RUNNING")
    task = api.post(
        "/task_runs/",
        {
            "flow_run_id": completed["id"],
            "task_key": "extract-rows",
            "dynamic_key": "0",
            "name": "extract-rows-0",
            "tags": ["db"],
        },
    )
    _state(api, task["id"], "RUNNING", kind="task_runs")
    parent_task = api.post(
        "/task_runs/",
        {"flow_run_id": completed["id"], "task_key": "load-partition", "dynamic_key": "0", "name": "load-partition-0"},
    )
    subflow = api.post(
        "/flow_runs/",
        {"flow_id": child_flow["id"], "name": "quiet-heron", "parent_task_run_id": parent_task["id"]},
    )
    _state(api, subflow["id"], "RUNNING")
    _state(api, subflow["id"], "COMPLETED")
    # (the sub-flow's states are mirrored onto its parent task run by the server)
    _state(api, task["id"], "COMPLETED", kind="task_runs")
    log_message = "Loaded 500 rows into warehouse.events"
    api.post(
        "/logs/",
        [
            {
                "name": "prefect.flow_runs",
                "level": level,
                "message": message,
                "timestamp": (now + dt.timedelta(seconds=i)).isoformat(),
                "flow_run_id": completed["id"],
            }
            for i, (level, message) in enumerate(
                [(20, "Starting extract"), (30, "Slow query: 4.2 s"), (20, log_message)]
            )
        ],
    )
    _state(api, completed["id"], "COMPLETED")

    failed = run("angry-lemur")
    _state(api, failed["id"], "RUNNING")
    _state(api, failed["id"], "FAILED", message="Flow run encountered an exception: ValueError")
    running = run("swift-falcon", deployment_id=deployment["id"])
    _state(api, running["id"], "RUNNING")
    later = (now + dt.timedelta(hours=2)).isoformat()
    run("patient-turtle", state={"type": "SCHEDULED", "state_details": {"scheduled_time": later}})

    block_type = api.post("/block_types/", {"name": "Warehouse Credentials", "slug": "warehouse-credentials"})
    schema = api.post(
        "/block_schemas/",
        {
            "block_type_id": block_type["id"],
            "capabilities": [],
            "fields": {
                "title": "WarehouseCredentials",
                "type": "object",
                "properties": {"value": {"title": "Value", "type": "string"}},
                "required": ["value"],
            },
        },
    )
    api.post(
        "/block_documents/",
        {
            "name": "warehouse-password",
            "block_type_id": block_type["id"],
            "block_schema_id": schema["id"],
            "data": {"value": "s3cr3t"},
        },
    )
    api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 3})

    api.post("/v2/concurrency_limits/", {"name": "warehouse-connections", "limit": 5})
    api.post("/variables/", {"name": "warehouse_schema", "value": "analytics"})
    api.post(
        "/artifacts/",
        {"key": "row-counts", "type": "markdown", "data": "# 500 rows", "flow_run_id": completed["id"]},
    )
    return Seeded(
        flow=flow,
        deployment=deployment,
        completed_run=completed,
        running_run=running,
        failed_run=failed,
        task_run=task,
        subflow_run=subflow,
        block_name="warehouse-password",
        concurrency_tag="db",
        global_limit="warehouse-connections",
        variable="warehouse_schema",
        artifact="row-counts",
        log_message=log_message,
    )
