"""CPU milliseconds and SQL statements per request of the hot-path scenarios, in-process.

Calls the WSGI application granian serves (``orion_project.wsgi.application``) in a
loop, so the figures are the server's own per-request cost (routing, middleware, DRF,
serialization, ORM) without the network, and are not blurred by other processes on
the machine: ``time.process_time`` counts only this process's CPU. The database
server's own CPU is not included (on PostgreSQL it is another process).

    DATABASE_URL=postgresql://... .venv/bin/python scripts/profile_hotpath.py --seed 2000
    .venv/bin/python scripts/profile_hotpath.py --only read_one --profile  # cProfile top 40

The database named by ``DATABASE_URL`` (or the SQLite default under ``ORION_DATA_DIR``)
is migrated and seeded with ``--seed`` flow runs if it has fewer; use a scratch one.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orion_project.settings")
os.environ.setdefault("ORION_LOG_LEVEL", "WARNING")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from orion_project.wsgi import application  # noqa: E402

HEADERS = {"HTTP_X_PREFECT_API_VERSION": "0.8.4", "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": "application/json"}
STATES = ["COMPLETED"] * 6 + ["FAILED", "RUNNING", "SCHEDULED", "CANCELLED", "CRASHED", "PENDING"]
TAGS = ["etl", "nightly", "prod", "dev", "ml", "reports"]


def call(method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    """One request through the WSGI application; the status code and the body."""
    raw = b"" if body is None else orjson.dumps(body)
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": f"/api{path}",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "4200",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **HEADERS,
    }
    status: list[str] = []

    def start_response(code: str, headers: Any, *exc_info: Any) -> Any:
        status.append(code)
        return lambda data: None

    chunks = application(environ, start_response)
    payload = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return int(status[0].split()[0]), payload


def ok(method: str, path: str, body: Any = None) -> Any:
    code, payload = call(method, path, body)
    if code >= 300:
        raise SystemExit(f"{method} {path} -> {code}: {payload[:400]!r}")
    return orjson.loads(payload) if payload else None


def seed(runs: int) -> dict[str, Any]:
    """Flows, flow runs in a spread of states/tags/times, task runs of a few runs."""
    rng = random.Random(12)
    flows = [ok("POST", "/flows/", {"name": f"flow-{i}"})["id"] for i in range(10)]
    have = ok("POST", "/flow_runs/count", {})
    now = dt.datetime.now(dt.UTC)
    for i in range(have, runs):
        when = now - dt.timedelta(days=rng.random() * 30)
        state = rng.choice(STATES)
        details = {"scheduled_time": when.isoformat()} if state == "SCHEDULED" else {}
        run = ok(
            "POST",
            "/flow_runs/",
            {
                "flow_id": flows[i % len(flows)],
                "tags": rng.sample(TAGS, 2),
                "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": when.isoformat()}},
            },
        )
        if state != "SCHEDULED":
            ok(
                "POST",
                f"/flow_runs/{run['id']}/set_state",
                {"state": {"type": state, "state_details": details}, "force": True},
            )
        if i % 200 == 0:
            for t in range(50):
                ok("POST", "/task_runs/", {"flow_run_id": run["id"], "task_key": f"t{t}", "dynamic_key": "0"})
    some = ok("POST", "/flow_runs/filter", {"limit": 1, "sort": "EXPECTED_START_TIME_DESC"})[0]
    with_tasks = ok("POST", "/task_runs/filter", {"limit": 1})[0]["flow_run_id"]
    return {"flows": flows, "flow_run": some["id"], "with_tasks": with_tasks, "now": now}


# ------------------------------------------------------------------------ scenarios
# Each yields (method, path, body) forever; the measured request is the last one of
# each step (earlier ones in a step are set-up and are measured too, as in "lifecycle").

Step = list[tuple[str, str, Any]]


def scenarios(ctx: dict[str, Any]) -> dict[str, Callable[[], Iterator[Step]]]:
    flows = ctx["flows"]
    week_ago = (ctx["now"] - dt.timedelta(days=7)).isoformat()

    def read_one() -> Iterator[Step]:
        while True:
            yield [("GET", f"/flow_runs/{ctx['flow_run']}", None)]

    def recent() -> Iterator[Step]:
        while True:
            yield [("POST", "/flow_runs/filter", {"sort": "EXPECTED_START_TIME_DESC", "limit": 50})]

    def nested() -> Iterator[Step]:
        body = {
            "flows": {"name": {"any_": ["flow-1", "flow-2"]}},
            "flow_runs": {
                "state": {"type": {"any_": ["COMPLETED", "FAILED"]}},
                "tags": {"all_": ["etl"]},
                "expected_start_time": {"after_": week_ago},
            },
            "sort": "EXPECTED_START_TIME_DESC",
            "limit": 50,
        }
        while True:
            yield [("POST", "/flow_runs/filter", body)]

    def count() -> Iterator[Step]:
        while True:
            yield [("POST", "/flow_runs/count", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}})]

    def history() -> Iterator[Step]:
        body = {
            "history_start": (ctx["now"] - dt.timedelta(days=30)).isoformat(),
            "history_end": ctx["now"].isoformat(),
            "history_interval_seconds": 86400,
        }
        while True:
            yield [("POST", "/flow_runs/history", body)]

    def task_runs() -> Iterator[Step]:
        body = {"flow_runs": {"id": {"any_": [ctx["with_tasks"]]}}, "sort": "EXPECTED_START_TIME_DESC"}
        while True:
            yield [("POST", "/task_runs/filter", body)]

    def create() -> Iterator[Step]:
        while True:
            yield [("POST", "/flow_runs/", {"flow_id": flows[0], "tags": ["etl"], "state": {"type": "PENDING"}})]

    def set_state() -> Iterator[Step]:
        while True:
            run = ok("POST", "/flow_runs/", {"flow_id": flows[0], "state": {"type": "PENDING"}})
            yield [("POST", f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}})]

    def lifecycle() -> Iterator[Step]:
        while True:
            yield [
                ("POST", "/flow_runs/", {"flow_id": flows[0], "state": {"type": "PENDING"}}),
                ("POST", "/flow_runs/{id}/set_state", {"state": {"type": "RUNNING"}}),
                ("POST", "/flow_runs/{id}/set_state", {"state": {"type": "COMPLETED"}}),
            ]

    def task_lifecycle() -> Iterator[Step]:
        run = ok("POST", "/flow_runs/", {"flow_id": flows[0], "state": {"type": "RUNNING"}})
        while True:
            key = uuid.uuid4().hex
            yield [
                (
                    "POST",
                    "/task_runs/",
                    {"flow_run_id": run["id"], "task_key": key, "dynamic_key": "0", "state": {"type": "PENDING"}},
                ),
                ("POST", "/task_runs/{id}/set_state", {"state": {"type": "RUNNING"}}),
                ("POST", "/task_runs/{id}/set_state", {"state": {"type": "COMPLETED"}}),
            ]

    def logs() -> Iterator[Step]:
        stamp = ctx["now"].isoformat()
        body = [
            {
                "name": "prefect.flow_runs",
                "level": 20,
                "message": f"line {i}",
                "timestamp": stamp,
                "flow_run_id": ctx["flow_run"],
            }
            for i in range(50)
        ]
        while True:
            yield [("POST", "/logs/", body)]

    return {
        "read_one": read_one,
        "recent": recent,
        "nested": nested,
        "count": count,
        "history": history,
        "task_runs": task_runs,
        "create": create,
        "set_state": set_state,
        "lifecycle": lifecycle,
        "task_lifecycle": task_lifecycle,
        "logs": logs,
    }


def run_step(step: Step) -> None:
    """Send a step's requests; later ones may name the run the first created (``{id}``)."""
    created_id = None
    for index, (method, path, body) in enumerate(step):
        if created_id is not None:
            path = path.replace("{id}", created_id)
        code, payload = call(method, path, body)
        if code >= 300:
            raise SystemExit(f"{method} {path} -> {code}: {payload[:400]!r}")
        if index == 0 and len(step) > 1:
            created_id = orjson.loads(payload)["id"]


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def measure(name: str, factory: Callable[[], Iterator[Step]], iterations: int, profile: bool) -> None:
    steps = factory()
    for _ in range(max(iterations // 10, 5)):  # warm up caches and connections
        run_step(next(steps))
    work = [next(steps) for _ in range(iterations)]
    counter = StatementCounter()
    profiler = cProfile.Profile(time.process_time) if profile else None
    with connection.execute_wrapper(counter):
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for step in work:
            run_step(step)
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    # The set_state scenario's set-up creates run outside the timed loop (in next()).
    requests = sum(len(step) for step in work)
    print(
        f"{name:15s} {cpu * 1000 / iterations:8.2f} CPU ms/step  {wall * 1000 / iterations:8.2f} wall ms/step  "
        f"{counter.count / iterations:5.1f} SQL/step  ({requests // iterations} req/step)",
        flush=True,
    )
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(25)


def show_sql(name: str, factory: Callable[[], Iterator[Step]]) -> None:
    from django.test.utils import CaptureQueriesContext

    steps = factory()
    run_step(next(steps))
    step = next(steps)
    with CaptureQueriesContext(connection) as captured:
        run_step(step)
    print(f"== {name}: {len(captured.captured_queries)} statements")
    for query in captured.captured_queries:
        print("   ", query["sql"] if os.environ.get("FULL_SQL") else query["sql"][:160])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2000, help="flow runs to seed (default 2000)")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--profile", action="store_true", help="print cProfile tables per scenario")
    parser.add_argument("--sql", action="store_true", help="print the SQL statements of one step per scenario")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    ctx = seed(args.seed)
    print(f"database: {connection.vendor}; {args.iterations} iterations per scenario")
    chosen = [name for name in args.only.split(",") if name]
    for name, factory in scenarios(ctx).items():
        if not chosen or name in chosen:
            if args.sql:
                show_sql(name, factory)
            else:
                measure(name, factory, args.iterations, args.profile)


if __name__ == "__main__":
    main()
