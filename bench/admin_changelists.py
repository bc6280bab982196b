"""Server time of each runs_app / flows_app admin changelist, on whatever database
``DATABASE_URL`` points at (issue #14: every changelist under 300 ms at 1,000,000 runs).

    DATABASE_URL=postgresql://... .venv/bin/python -m bench.admin_changelists [--repeat 5]

Each page is requested in-process through Django's test client, logged in as a superuser
made for the run (``bench-admin``, removed afterwards), so the figure is the server's time
for the page (view, queries, template) without a network or a browser. Every changelist of
both apps is measured bare, and the flow-run and task-run lists also with each of their
filters and both kinds of search (name prefix, id prefix), the way an operator uses them.
One warm-up request, then ``--repeat`` timed ones: p50 and max in ms, and the SQL
statements of one request.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

APPS = ("runs_app", "flows_app")
BUDGET_MS = 300.0


@dataclass
class Row:
    url: str
    status: int
    p50_ms: float
    max_ms: float
    statements: int


def filtered_urls(reverse: Any) -> list[str]:
    """The run lists as operators filter and search them (values taken from the data)."""
    from runs_app.models import FlowRun, TaskRun

    flow_runs = reverse("admin:runs_app_flowrun_changelist")
    task_runs = reverse("admin:runs_app_taskrun_changelist")
    urls = [
        f"{flow_runs}?state_type__exact=FAILED",
        f"{flow_runs}?state_type__exact=RUNNING",
        f"{flow_runs}?window=24h",
        f"{flow_runs}?window=upcoming",
        f"{flow_runs}?late=yes",
        f"{flow_runs}?tag=prod",
        f"{task_runs}?state_type__exact=COMPLETED",
        f"{task_runs}?window=7d",
    ]
    # The newest run, as an operator would look one up. Not ``.first()`` of an unordered
    # query: that is the smallest id, at the edge of the planner's id histogram, where its
    # estimate of an id-prefix range is thousands of rows instead of one.
    sample = FlowRun.objects.order_by("-expected_start_time").values("id", "name", "flow_id", "deployment_id").first()
    if sample is not None:
        urls += [
            f"{flow_runs}?flow__id__exact={sample['flow_id']}",
            f"{flow_runs}?q={sample['name'][:6]}",
            f"{flow_runs}?q={str(sample['id'])[:8]}",
            f"{task_runs}?flow_run_id={sample['id']}",
        ]
        if sample["deployment_id"]:
            urls.append(f"{flow_runs}?deployment__id__exact={sample['deployment_id']}")
    task = TaskRun.objects.order_by("-expected_start_time").values("id", "name").first()
    if task is not None:
        urls += [f"{task_runs}?q={task['name'][:6]}", f"{task_runs}?q={str(task['id'])[:8]}"]
    return urls


def measure(client: Any, url: str, repeat: int) -> Row:
    from django.db import connection

    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    # An execute wrapper, not CaptureQueriesContext: it needs no debug cursor and survives
    # the connection being closed and reopened around the request.
    with connection.execute_wrapper(count):
        response = client.get(url)
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
    return Row(url, response.status_code, statistics.median(timings), max(timings), statements)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="sets DATABASE_URL for this run")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page (p50 of these)")
    args = parser.parse_args(argv)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orion_project.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    from runs_app.models import FlowRun

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; flow runs (estimate or count): ", end="")
    print(FlowRun.objects.count() if connection.vendor != "postgresql" else _estimate("runs_app_flowrun"))
    user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    try:
        urls = [
            reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            for model in admin.site._registry
            if model._meta.app_label in APPS
        ]
        rows = [measure(client, url, args.repeat) for url in sorted(urls) + filtered_urls(reverse)]
    finally:
        user.delete()
    width = max(len(row.url) for row in rows)
    print(f"{'changelist':<{width}}  status  p50 ms  max ms  statements")
    for row in rows:
        flag = "" if row.status == 200 and row.p50_ms <= BUDGET_MS else "  <-- over budget or failed"
        print(
            f"{row.url:<{width}}  {row.status:>6}  {row.p50_ms:>6.1f}  {row.max_ms:>6.1f}  {row.statements:>10}{flag}"
        )
    over = [row for row in rows if row.status != 200 or row.p50_ms > BUDGET_MS]
    print(f"{len(rows)} pages, {len(over)} over {BUDGET_MS:.0f} ms (p50) or failed")
    return 1 if over else 0


def _estimate(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
        found = cursor.fetchone()
    return int(found[0]) if found else -1


if __name__ == "__main__":
    sys.exit(main())
