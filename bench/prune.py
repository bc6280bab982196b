"""A retention pass at scale while a client reads (``make bench-prune``).

    .venv/bin/python -m bench.prune --database-url postgresql://.../orion --older-than 14d

Against a database already holding the big data set (a copy: this deletes runs). It
starts ``orion_start --no-services``, keeps one client reading the recent-runs page
(``POST /flow_runs/filter``, 50 newest) in a loop, runs ``manage.py orion_prune`` with
the given arguments, and reports how long the prune took, what it deleted, and the
reads' count, p50, p99 and errors while it ran: the prune's short batch transactions
must not stall the API.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bench.compare import PY, ROOT, log, ours

PAGE = json.dumps({"sort": "EXPECTED_START_TIME_DESC", "limit": 50}).encode()


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


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="a copy of the seeded database")
    parser.add_argument("--older-than", default="14d")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--port", type=int, default=4282)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or DATABASE_URL) is required")
    server = ours(args.database_url, args.port)
    env = server.env
    workdir = Path(tempfile.mkdtemp(prefix="orion-prune-"))
    stop, latencies, errors = threading.Event(), [], []  # type: ignore[var-annotated]
    try:
        server.start(None, workdir)
        thread = threading.Thread(target=reader, args=(server.base_url, stop, latencies, errors), daemon=True)
        thread.start()
        prune = [PY, "manage.py", "orion_prune", "--older-than", args.older_than, "--batch", str(args.batch)]
        log(f"running {' '.join(prune[1:])}")
        started = time.monotonic()
        done = subprocess.run(prune, env=env, cwd=ROOT, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        stop.set()
        thread.join(timeout=90)
    finally:
        server.stop()
    print(done.stdout[-3000:])
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    print(
        f"prune: {elapsed:.0f} s ({elapsed / 60:.1f} min); reads meanwhile: {len(latencies)}, "
        f"p50 {percentile(latencies, 0.5):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies) * 1000 if latencies else 0:.0f} ms, errors {len(errors)}"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
