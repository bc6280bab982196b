"""``EXPLAIN (ANALYZE, BUFFERS)`` of the SQL the server runs for the read workloads.

    DATABASE_URL=postgresql://... .venv/bin/python -m bench.explain [--case NAME] [--repeat 2]

Each case is a real API request (the PERFORMANCE.md bodies) sent in-process through
Django's test client, so the body is validated by the viewset's request serializer and
the querysets are built by the view itself (``FlowRunViewSet._matching`` →
``runs_app.selectors.runs.flow_runs_matching``, ``run_history`` ...). Every statement the request
executes is captured with ``CaptureQueriesContext``: on PostgreSQL (psycopg 3, client-side
binding) that is the exact SQL text sent, parameters included. Each captured ``SELECT`` is
then run under ``EXPLAIN (ANALYZE, BUFFERS)`` after ``--repeat`` warm-up requests, and any
``Seq Scan on runs_app_flowrun`` (or on the state/task tables) is flagged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

API_HEADERS = {"HTTP_X_PREFECT_API_VERSION": "0.8.4"}
SCAN = re.compile(r"Seq Scan on (runs_app_flowrun|runs_app_flowrunstate|runs_app_taskrun|runs_app_taskrunstate)\b")


@dataclass
class Case:
    name: str
    method: str
    path: str
    body: Callable[[dict[str, Any]], Any]


def week_ago() -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).isoformat()


def nested(sort: str | None) -> Callable[[dict[str, Any]], Any]:
    def body(_: dict[str, Any]) -> Any:
        value: dict[str, Any] = {
            "flows": {"name": {"like_": "etl"}},
            "flow_runs": {
                "state": {"type": {"any_": ["FAILED", "CRASHED"]}},
                "tags": {"all_": ["prod", "etl"]},
                "expected_start_time": {"after_": week_ago()},
            },
            "limit": 50,
        }
        if sort:
            value["sort"] = sort
        return value

    return body


def history(_: dict[str, Any]) -> Any:
    now = dt.datetime.now(dt.UTC)
    return {
        "history_start": (now - dt.timedelta(days=30)).isoformat(),
        "history_end": now.isoformat(),
        "history_interval_seconds": 86_400,
    }


CASES = (
    Case(
        "recent runs page", "POST", "/api/flow_runs/filter", lambda _: {"sort": "EXPECTED_START_TIME_DESC", "limit": 50}
    ),
    Case(
        "runs by state page",
        "POST",
        "/api/flow_runs/filter",
        lambda _: {
            "flow_runs": {"state": {"type": {"any_": ["FAILED"]}}},
            "sort": "EXPECTED_START_TIME_DESC",
            "limit": 50,
        },
    ),
    Case(
        "count by state",
        "POST",
        "/api/flow_runs/count",
        lambda _: {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}},
    ),
    Case("30-day history", "POST", "/api/flow_runs/history", history),
    Case("nested filter", "POST", "/api/flow_runs/filter", nested(None)),
    Case(
        "nested filter, EXPECTED_START_TIME_DESC", "POST", "/api/flow_runs/filter", nested("EXPECTED_START_TIME_DESC")
    ),
    Case(
        "task runs of a run",
        "POST",
        "/api/task_runs/filter",
        lambda fx: {"flow_runs": {"id": {"any_": [fx["run_with_tasks"]]}}},
    ),
    Case("read one run", "GET", "/api/flow_runs/{run_id}", lambda _: None),
)


def fixtures() -> dict[str, Any]:
    from runs_app.models import FlowRun, TaskRun

    run = FlowRun.objects.order_by("-expected_start_time").values_list("id", flat=True).first()
    task = TaskRun.objects.exclude(flow_run=None).order_by("-expected_start_time").values_list("flow_run_id", flat=True)
    if run is None:
        raise SystemExit("no flow runs: seed first (python -m bench.seed)")
    return {"run_id": str(run), "run_with_tasks": str(task.first() or run)}


def send(client: Any, case: Case, fx: dict[str, Any]) -> tuple[int, float]:
    path = case.path.format(**fx)
    started = time.perf_counter()
    if case.method == "GET":
        response = client.get(path, **API_HEADERS)
    else:
        response = client.post(path, json.dumps(case.body(fx)), content_type="application/json", **API_HEADERS)
    return response.status_code, time.perf_counter() - started


def explain(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return [row[0] for row in cursor.fetchall()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.explain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="sets DATABASE_URL (must be PostgreSQL)")
    parser.add_argument("--case", action="append", help="only this case (repeatable); default: all")
    parser.add_argument("--repeat", type=int, default=2, help="warm-up requests per case before EXPLAIN")
    parser.add_argument("--no-sql", action="store_true", help="do not print the SQL text")
    args = parser.parse_args(argv)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orion_project.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        raise SystemExit("bench.explain needs PostgreSQL: set DATABASE_URL or --database-url")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), current_setting('jit'), "
                       "current_setting('shared_buffers'), current_setting('work_mem'), "
                       "(SELECT reltuples::bigint FROM pg_class WHERE relname = 'runs_app_flowrun')")  # fmt: skip
        version, jit, shared_buffers, work_mem, rows = cursor.fetchone()
    print(
        f"# PostgreSQL {version}, jit={jit}, shared_buffers={shared_buffers}, work_mem={work_mem}, ~{rows:,} flow runs"
    )
    cases = [case for case in CASES if not args.case or case.name in args.case]
    if args.case and len(cases) != len(args.case):
        parser.error(f"unknown case; known: {[case.name for case in CASES]}")
    fx = fixtures()
    client = Client()
    summary = []
    for case in cases:
        for _ in range(max(args.repeat, 0)):
            send(client, case, fx)
        with CaptureQueriesContext(connection) as captured:
            status, elapsed = send(client, case, fx)
        selects = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
        print(f"\n## {case.name}: HTTP {status}, {elapsed * 1000:.1f} ms in-process, "
              f"{len(captured.captured_queries)} statement(s)")  # fmt: skip
        scans: list[str] = []
        execution = 0.0
        for index, sql in enumerate(selects, 1):
            if not args.no_sql:
                print(f"\n-- statement {index}:\n{sql}\n")
            plan = explain(sql)
            for line in plan:
                flag = "   <-- SEQ SCAN" if SCAN.search(line) else ""
                print(f"    {line}{flag}")
                match = SCAN.search(line)
                if match:
                    scans.append(match.group(1))
                if line.startswith("Execution Time:"):
                    execution += float(line.split()[2])
        summary.append((case.name, status, len(captured.captured_queries), elapsed * 1000, execution, scans))
    print("\n| case | HTTP | statements | request ms (in-process) | SQL execution ms | seq scans |")
    print("|---|---:|---:|---:|---:|---|")
    for name, status, statements, elapsed_ms, execution, scans in summary:
        flagged = ", ".join(f"**Seq Scan on {table}**" for table in scans) or "none"
        print(f"| {name} | {status} | {statements} | {elapsed_ms:.1f} | {execution:.1f} | {flagged} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
