"""The events read routes at scale, through HTTP (``make bench-events``).

    .venv/bin/python -m bench.events --database-url postgresql://.../orion --events 1000000

Seeds ``--events`` events (``--no-seed``: keep what the database holds) spread over the
last 7 days with ``COPY``, as flow-run, task-run, deployment and custom events naming a
flow run and its flow, deployment and tags (so about 4 resource rows per event), in the
workspace ``default``; then starts ``orion_start --no-services --workers 1`` pinned with
the PostgreSQL postmaster to ``--server-cpu`` and sends each scenario one request at a
time for ``--seconds`` (after ``--warmup``): the common filter shapes and the counts. Each
answer is checked (status 200, the shape); p50 and p99 are printed and written into
``docs/performance.md``. ``--reference URL`` (a 2.20 server with events on, e.g.
``http://127.0.0.1:4321/api``) sends the same requests to it too, after posting the same
events to it through ``POST /events`` (so keep ``--events`` small there).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import report
from bench.compare import ROOT, log, ours, pin

TITLE = "{events} events through HTTP{beside} (make bench-events)"
NAMES = (
    [f"prefect.flow-run.{state}" for state in ("Scheduled", "Pending", "Running", "Completed", "Failed", "Cancelled")]
    + [f"prefect.task-run.{state}" for state in ("Pending", "Running", "Completed", "Failed")]
    + ["prefect.deployment.ready", "prefect.work-queue.ready", "acme.order.placed", "acme.order.shipped"]
)
FLOWS, DEPLOYMENTS, TAGS = 200, 100, 20
BATCH = 50_000


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def generate(count: int, now: dt.datetime, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``count`` events over the 7 days before ``now``: a flow run per 10 events."""
    rng = random.Random(seed)
    span = 7 * 86400
    runs = max(count // 10, 1)
    for _ in range(count):
        run = rng.randrange(runs)
        flow, deployment = run % FLOWS, run % DEPLOYMENTS
        related = [
            {"prefect.resource.id": f"prefect.flow.{flow}", "prefect.resource.role": "flow", "prefect.resource.name": f"flow-{flow}"},
            {"prefect.resource.id": f"prefect.deployment.{deployment}", "prefect.resource.role": "deployment"},
            {"prefect.resource.id": f"prefect.tag.t{run % TAGS}", "prefect.resource.role": "tag"},
        ]  # fmt: skip
        yield {
            "occurred": now - dt.timedelta(seconds=rng.random() * span),
            "event": rng.choice(NAMES),
            "resource": {"prefect.resource.id": f"prefect.flow-run.{run}", "prefect.resource.name": f"run-{run}"},
            "related": related,
            "payload": {"n": rng.randrange(1000)},
            "id": uuid.uuid4(),
        }


def seed(url: str, count: int, now: dt.datetime) -> float:
    """Write ``count`` events (and their resource rows) with COPY; the seconds it took."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(url) as connection:
        workspace = connection.execute("SELECT id FROM orion_project_workspace WHERE slug = 'default'").fetchone()[0]  # type: ignore[index]
        next_seq = connection.execute("SELECT coalesce(max(seq), 0) + 1 FROM events_app_event").fetchone()[0]  # type: ignore[index]
        events = generate(count, now)
        written = 0
        while written < count:
            rows, resources = [], []
            for event in (next(events) for _ in range(min(BATCH, count - written))):
                seq = next_seq
                next_seq += 1
                rows.append((seq, workspace, event["id"], None, event["occurred"], event["event"],
                             event["resource"]["prefect.resource.id"], json.dumps(event["resource"]),
                             json.dumps(event["related"]), json.dumps(event["payload"]), now, None))  # fmt: skip
                resources.append((workspace, seq, event["occurred"], event["resource"]["prefect.resource.id"], ""))
                for item in event["related"]:
                    resources.append((workspace, seq, event["occurred"], item["prefect.resource.id"], item["prefect.resource.role"]))  # fmt: skip
            with connection.cursor() as cursor:
                columns = "seq, workspace_id, uuid, txid, occurred, event, resource_id, resource, related, payload, received, follows"
                with cursor.copy(f"COPY events_app_event ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                with cursor.copy(
                    "COPY events_app_eventresource (workspace_id, event_seq, occurred, resource_id, role) FROM STDIN"
                ) as copy:
                    for resource in resources:
                        copy.write_row(resource)
            connection.commit()
            written += len(rows)
            log(f"seeded {written:,} events")
        connection.execute(
            "SELECT setval(pg_get_serial_sequence('events_app_event', 'seq'), (SELECT max(seq) FROM events_app_event))"
        )
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE events_app_event")
        connection.execute("VACUUM ANALYZE events_app_eventresource")
    return time.monotonic() - started


Request = tuple[str, str, Any]


def scenarios(now: dt.datetime, count: int) -> dict[str, Callable[[random.Random], Request]]:
    """Each scenario: a request built afresh each time (a random run, flow, ...)."""
    runs = max(count // 10, 1)
    week = {"occurred": {"since": _iso(now - dt.timedelta(days=7)), "until": _iso(now)}}
    return {
        "recent page (no filter)": lambda rng: ("POST", "/events/filter", {}),
        "name prefix": lambda rng: ("POST", "/events/filter", {"filter": {"event": {"prefix": ["prefect.flow-run."]}}}),
        "exact name": lambda rng: ("POST", "/events/filter", {"filter": {"event": {"name": [rng.choice(NAMES)]}}}),
        "resource id": lambda rng: (
            "POST",
            "/events/filter",
            {"filter": {"resource": {"id": [f"prefect.flow-run.{rng.randrange(runs)}"]}}},
        ),
        "related id (a flow)": lambda rng: (
            "POST",
            "/events/filter",
            {"filter": {"related": {"id": [f"prefect.flow.{rng.randrange(FLOWS)}"]}}},
        ),
        "count-by day (7 days)": lambda rng: ("POST", "/events/count-by/day", {"filter": week}),
        "count-by event": lambda rng: ("POST", "/events/count-by/event", {"filter": week}),
        "count-by resource (one flow)": lambda rng: (
            "POST",
            "/events/count-by/resource",
            {"filter": {**week, "related": {"id": [f"prefect.flow.{rng.randrange(FLOWS)}"]}}},
        ),
    }


class Client:
    """One keep-alive connection to a server's API."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def send(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if data is not None else {}
        self.connection.request(method, self.path + path, body=data, headers=headers)
        response = self.connection.getresponse()
        text = response.read()
        return response.status, json.loads(text) if text else None


def check(name: str, status: int, answer: Any) -> None:
    if status != 200:
        raise SystemExit(f"{name}: {status} {str(answer)[:300]}")
    if name.startswith("count-by"):
        assert isinstance(answer, list) and all("count" in item for item in answer), name
    else:
        assert {"events", "total", "next_page"} <= set(answer), name


def measure(
    client: Client, name: str, build: Callable[[random.Random], Request], seconds: float, warmup: float
) -> list[float]:
    """Latencies (ms) of requests sent one after another for ``seconds``."""
    rng = random.Random(name)
    latencies: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < warmup + seconds:
        method, path, body = build(rng)
        before = time.perf_counter()
        status, answer = client.send(method, path, body)
        elapsed = (time.perf_counter() - before) * 1000
        check(name, status, answer)
        if time.monotonic() - started >= warmup:
            latencies.append(elapsed)
    return latencies


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def post_events(base_url: str, count: int, now: dt.datetime) -> None:
    """The same data set through ``POST /events`` (for a server without COPY access)."""
    client = Client(base_url)
    batch: list[dict[str, Any]] = []
    for event in generate(count, now):
        batch.append({**event, "occurred": _iso(event["occurred"]), "id": str(event["id"])})
        if len(batch) == 500:
            assert client.send("POST", "/events", batch)[0] == 204
            batch = []
    if batch:
        assert client.send("POST", "/events", batch)[0] == 204


def run(args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.UTC)
    workdir = Path(tempfile.mkdtemp(prefix="orion-events-bench-"))
    server = ours(args.database_url, args.port, workers=1)
    import psycopg

    with psycopg.connect(args.database_url, autocommit=True) as connection:
        if not args.no_seed:
            connection.execute("TRUNCATE events_app_event, events_app_eventresource")
        data_directory = connection.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
        version = connection.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    seeded = None if args.no_seed else seed(args.database_url, args.events, now)
    with psycopg.connect(args.database_url, autocommit=True) as connection:
        stored = connection.execute("SELECT count(*) FROM events_app_event").fetchone()[0]  # type: ignore[index]
        newest = connection.execute("SELECT max(occurred) FROM events_app_event").fetchone()[0]  # type: ignore[index]
    now = max(now, newest or now)
    postmaster = int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    cpu = None if args.no_pin else args.server_cpu
    if cpu is not None:
        pin(postmaster, cpu)
    targets = {"this server": server.base_url}
    if args.reference:
        log(f"posting {args.events:,} events to the reference")
        post_events(args.reference, args.events, now)
        time.sleep(8)  # its persister writes in batches
        targets["2.20 reference"] = args.reference
    rows: dict[str, dict[str, tuple[float, float, int]]] = {}
    try:
        server.start(cpu, workdir)
        for name, build in scenarios(now, stored).items():
            if args.only and name not in args.only.split(","):
                continue
            for target, base_url in targets.items():
                latencies = measure(Client(base_url), name, build, args.seconds, args.warmup)
                p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
                rows.setdefault(name, {})[target] = (p50, p99, len(latencies))
                log(f"{target:<14} {name:<30} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  ({len(latencies)} requests)")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    settings = "\n".join(
        [
            f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC at commit {report.commit()}.",
            f"- Machine: {report.machine()}.",
            f"- PostgreSQL {version}; {stored:,} events over 7 days in one workspace, about 4 resource rows each"
            + (f" (seeded by COPY in {seeded:.0f} s)" if seeded else "")
            + ".",
            f"- `orion_start --no-services --workers 1` and the postmaster on CPU {cpu}; one request at a time, "
            f"{args.seconds:g} s per line after {args.warmup:g} s warm-up; every answer checked.",
        ]
    )
    header = "| scenario | " + " | ".join(f"{target} p50 / p99 ms" for target in targets) + " |"
    lines = [header, "|---|" + "---:|" * len(targets)]
    for name, by_target in rows.items():
        cells = [f"{by_target[t][0]:.1f} / {by_target[t][1]:.1f}" if t in by_target else "" for t in targets]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(settings)
    print(table)
    if args.docs:
        title = TITLE.format(events=f"{stored:,}", beside=", beside the 2.20 reference" if args.reference else "")
        report.update_section(ROOT / args.docs, title, settings + "\n\n" + table)
        log(f"wrote the section '{title}' of {args.docs}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="a PostgreSQL database")
    parser.add_argument("--events", type=int, default=100_000, help="events to seed (1000000 for the budget run)")
    parser.add_argument("--no-seed", action="store_true", help="measure the events the database holds")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--only", help="comma-separated scenarios (default: all)")
    parser.add_argument("--port", type=int, default=4282)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--reference", help="a 2.20 server's API URL to measure side by side")
    parser.add_argument("--docs", default="docs/performance.md", help="file to update ('' = none)")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("--database-url (or DATABASE_URL) must name a PostgreSQL database")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
