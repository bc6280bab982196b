"""A retention pass at scale while a client reads (``make bench-prune``).

    .venv/bin/python -m bench.prune --database-url postgresql://.../orion --before 2026-11-22T12:00:00Z

Against a database already holding the big data set (a copy: this deletes runs). It
starts ``orion_start --no-services``, keeps one client reading the recent-runs page
(``POST /flow_runs/filter``, 50 newest, of ``--workspace``: by default the first that
has runs) in a loop, runs ``manage.py orion_prune`` with
the given arguments, and reports how long the prune took, what it deleted, the CPU the
prune spent (its process and its PostgreSQL backend) and the server's, and the reads'
count, p50, p99 and errors while it ran: the prune's short batch transactions must not
stall the API.

``--before`` fixes the cut-off as a moment (converted to an age when the prune starts),
so two runs minutes or hours apart delete the same runs; ``--older-than`` is an age.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bench.compare import PY, ROOT, log, ours
from bench.load import process_tree_cpu

PAGE = json.dumps({"sort": "EXPECTED_START_TIME_DESC", "limit": 50}).encode()
# The prune's PostgreSQL connection, found by this name in ``pg_stat_activity``.
APPLICATION_NAME = "orion-bench-prune"


def reader(base_url: str, stop: threading.Event, latencies: list[float], errors: list[str]) -> None:
    """Read the recent-runs page until ``stop``; one request in flight."""
    while not stop.is_set():
        request = urllib.request.Request(
            f"{base_url}/flow_runs/filter", data=PAGE, headers={"Content-Type": "application/json"}
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                rows = json.loads(response.read())
            if len(rows) != 50:
                errors.append(f"{len(rows)} rows")
        except OSError as error:
            errors.append(str(error))
        latencies.append(time.perf_counter() - started)


def backend_cpu(database_url: str, stop: threading.Event, seen: dict[int, float]) -> None:
    """Sample, until ``stop``, the CPU seconds of the prune's PostgreSQL backend(s) (same
    machine as the cluster): the last sample of each stands for its total."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        while not stop.is_set():
            pids = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APPLICATION_NAME]
            ).fetchall()
            for (pid,) in pids:
                cpu = process_tree_cpu([pid])
                if cpu:
                    seen[pid] = max(seen.get(pid, 0.0), cpu)
            stop.wait(0.2)


def reader_workspace(database_url: str) -> str:
    """The slug of the first workspace that has flow runs (the one the client reads)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT slug FROM orion_project_workspace AS w "
            "WHERE EXISTS (SELECT 1 FROM runs_app_flowrun WHERE workspace_id = w.id) ORDER BY id LIMIT 1"
        ).fetchone()
    if row is None:
        raise SystemExit("no workspace has flow runs: nothing to prune")
    return str(row[0])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="a copy of the seeded database")
    parser.add_argument("--older-than", default="14d")
    parser.add_argument("--before", help="the cut-off as an ISO moment (overrides --older-than)")
    parser.add_argument("--batch", type=int, help="orion_prune --batch (default: the command's)")
    parser.add_argument("--batch-seconds", type=float, help="orion_prune --batch-seconds (default: the command's)")
    parser.add_argument("--workspace", help="the workspace the client reads (default: the first with runs)")
    parser.add_argument("--port", type=int, default=4282)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or DATABASE_URL) is required")
    server = ours(args.database_url, args.port)
    server.api_path = f"/api/workspaces/{args.workspace or reader_workspace(args.database_url)}"
    env = {**server.env, "PGAPPNAME": APPLICATION_NAME}
    workdir = Path(tempfile.mkdtemp(prefix="orion-prune-"))
    stop, latencies, errors = threading.Event(), [], []  # type: ignore[var-annotated]
    backends: dict[int, float] = {}
    try:
        server.start(None, workdir)
        assert server.process is not None
        thread = threading.Thread(target=reader, args=(server.base_url, stop, latencies, errors), daemon=True)
        sampler = threading.Thread(target=backend_cpu, args=(args.database_url, stop, backends), daemon=True)
        thread.start()
        sampler.start()
        older_than = args.older_than
        if args.before:
            cutoff = dt.datetime.fromisoformat(args.before.replace("Z", "+00:00"))
            older_than = f"{int((dt.datetime.now(dt.UTC) - cutoff).total_seconds())}s"
        prune = [PY, "manage.py", "orion_prune", "--older-than", older_than]
        if args.batch:
            prune += ["--batch", str(args.batch)]
        if args.batch_seconds is not None:
            prune += ["--batch-seconds", str(args.batch_seconds)]
        log(f"running {' '.join(prune[1:])}")
        server_before = process_tree_cpu([server.process.pid]) or 0.0
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done = subprocess.run(prune, env=env, cwd=ROOT, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = (process_tree_cpu([server.process.pid]) or 0.0) - server_before
        stop.set()
        thread.join(timeout=90)
        sampler.join(timeout=10)
    finally:
        server.stop()
    print(done.stdout[-3000:])
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    prune_cpu = (children.ru_utime + children.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    print(
        f"prune: {elapsed:.0f} s ({elapsed / 60:.1f} min); CPU: prune process {prune_cpu:.0f} s, "
        f"its PostgreSQL backend {sum(backends.values()):.0f} s, server (readers) {server_cpu:.0f} s; "
        f"load average {' '.join(f'{value:.2f}' for value in os.getloadavg())}"
    )
    print(
        f"reads meanwhile: {len(latencies)}, p50 {percentile(latencies, 0.5):.0f} ms, "
        f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies) * 1000 if latencies else 0:.0f} ms, "
        f"errors {len(errors)}" + (f" (first: {errors[0]})" if errors else "")
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
