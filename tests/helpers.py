"""Helpers the test modules share: the JSON API client, run factories through the API,
concurrent callers, and ``manage.py orion_start`` as a real server. Imported from here
(or through fixtures in conftest.py), never from another test module."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db import connections
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import FlowFactory

# Raw flow-run filter bodies a client may send: conditions on every related resource, on
# time, on state, sorts and pages (validated by the route's own body serializer by whoever
# uses them: the prepared-statement rule, the kept bodies).
FILTER_SINCE = "2026-11-01T00:00:00+00:00"
FLOW_RUN_FILTER_BODIES: list[dict[str, Any]] = [
    {},
    {"flow_runs": {"state": {"type": {"any_": ["RUNNING", "COMPLETED"]}}}},
    {"flows": {"id": {"any_": [str(uuid.UUID(int=1))]}}, "flow_runs": {"state": {"name": {"any_": ["Late"]}}}},
    {"flows": {"id": {"any_": []}}},
    {
        "flows": {"name": {"like_": "etl"}},
        "flow_runs": {"expected_start_time": {"after_": FILTER_SINCE}, "tags": {"all_": ["a"]}},
        "deployments": {"id": {"any_": [str(uuid.UUID(int=1))]}},
        "work_pools": {"name": {"any_": ["pool"]}},
        "work_pool_queues": {"name": {"any_": ["queue"]}},
        "task_runs": {"state": {"type": {"any_": ["FAILED"]}}},
        "sort": "EXPECTED_START_TIME_DESC",
        "limit": 10,
        "offset": 5,
    },
    {"flow_runs": {"next_scheduled_start_time": {"before_": FILTER_SINCE}, "parent_task_run_id": {"is_null_": True}}},
]

# Threads released together by :func:`in_parallel`.
THREADS = 8


class ApiClient:
    """Sends JSON bodies with the stock client's API-version header to ``/api`` routes."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.headers = {"HTTP_X_PREFECT_API_VERSION": "0.8.4"}

    def request(self, method: str, path: str, body: Any = None, raw: str | None = None, **headers: str) -> Any:
        kwargs: dict[str, Any] = {**self.headers, **headers}
        if raw is not None:
            kwargs.update(data=raw, content_type="application/json")
        elif body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method)(f"/api{path}", **kwargs)

    def get(self, path: str, **headers: str) -> Any:
        return self.request("get", path, **headers)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("post", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("patch", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("put", path, body, **kwargs)

    def delete(self, path: str, **headers: str) -> Any:
        return self.request("delete", path, **headers)


class WorkspaceApi(ApiClient):
    """The JSON API client of one workspace: paths go under ``/api/workspaces/<slug>``."""

    def __init__(self, client: Client, slug: str, workspace: Any = None) -> None:
        super().__init__(client)
        self.slug = slug
        self._workspace = workspace

    @property
    def workspace(self) -> Any:
        """The workspace's row (``orion_project.models.Workspace``), read once."""
        if self._workspace is None:
            from orion_project.models import Workspace

            self._workspace = Workspace.objects.get(slug=self.slug)
        return self._workspace

    def request(self, method: str, path: str, body: Any = None, raw: str | None = None, **headers: str) -> Any:
        return super().request(method, f"/workspaces/{self.slug}{path}", body, raw, **headers)


def free_port() -> int:
    """A loopback port no one listens on, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_statements() -> int:
    """A transition's state row and run: one statement on PostgreSQL (the state's INSERT
    as a WITH of the run's), two on SQLite (statement counts of the write path)."""
    return 1 if connections["default"].vendor == "postgresql" else 2


def flow_run_write_statements() -> int:
    """A flow run's state write: its state row, the run and the upsert of its history
    rollup rows; one statement on PostgreSQL (the upsert a WITH item too), three on SQLite."""
    return 1 if connections["default"].vendor == "postgresql" else 3


def make_flow_run(api: ApiClient, state_type: str | None = None, **fields: Any) -> dict[str, Any]:
    flow = FlowFactory()
    body: dict[str, Any] = {"flow_id": str(flow.id), **fields}
    if state_type is not None:
        body["state"] = {"type": state_type}
    response = api.post("/flow_runs/", body)
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def make_task_run(
    api: ApiClient, state_type: str | None = None, flow_run: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    flow_run = flow_run or make_flow_run(api, "RUNNING")
    body: dict[str, Any] = {"flow_run_id": flow_run["id"], "task_key": uuid.uuid4().hex, "dynamic_key": "0", **fields}
    if state_type is not None:
        body["state"] = {"type": state_type}
    response = api.post("/task_runs/", body)
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def propose(
    api: ApiClient, kind: str, run_id: str, state: dict[str, Any], force: bool = False
) -> tuple[int, dict[str, Any]]:
    response = api.post(f"/{kind}/{run_id}/set_state", {"state": state, "force": force})
    return response.status_code, response.json()


def in_parallel(call: Callable[[Client], Any], count: int = THREADS) -> list[Any]:
    """Run ``call`` in ``count`` threads released together; return their results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        client = Client(HTTP_X_PREFECT_API_VERSION="0.8.4")
        barrier.wait()
        try:
            results[index] = call(client)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def post(client: Client, path: str, body: Any) -> Any:
    """POST a JSON body through a plain Django client; ``(status, body)``."""
    response = client.post(f"/api{path}", data=json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


# ------------------------------------------------------------------ the real server

MANAGE = [sys.executable, str(Path(__file__).resolve().parents[1] / "manage.py")]


def api_healthy(port: int, seconds: float = 60) -> bool:
    """Whether the API on ``port`` answers ``/api/health`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
                if response.status == 200 and json.loads(response.read()) is True:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def orion_start(
    env: dict[str, str], *args: str, errors: bool = False, output: bool = False, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """``manage.py orion_start *args`` with ``env``, in a process group of its own (see
    :func:`kill_process_group`), started from ``cwd``; its stderr piped when ``errors``,
    its stdout when ``output``."""
    return subprocess.Popen(
        [*MANAGE, "orion_start", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE if output else subprocess.DEVNULL,
        stderr=subprocess.PIPE if errors else subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_process_group(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` and every process of its group: a test that fails half-way must
    not leave a server holding a port."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def database_url(settings_dict: dict[str, Any]) -> str:
    """The ``DATABASE_URL`` of a Django database entry (the test database, for a server
    started by a test to share it)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(settings_dict['NAME']).resolve()}"
    credentials = quote(settings_dict["USER"] or "", safe="")
    if settings_dict["PASSWORD"]:
        credentials += ":" + quote(settings_dict["PASSWORD"], safe="")
    host = settings_dict["HOST"] or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgresql://{credentials}@{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``GET /api/metrics`` as Prometheus parses it: each sample's value by its name and
    sorted labels."""
    response = client.get("/api/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples
