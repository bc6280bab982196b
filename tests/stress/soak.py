"""Concurrency soak: many clients running flow-run and task-run lifecycles at once.

    python -m tests.stress.soak --db both --database-url URL --seconds 120 --clients 8

Against ``manage.py orion_start`` (API and background services) on loopback, each client
loops until the time is up: a flow run PENDING → RUNNING, three task runs tagged with a
limited tag (limit 2) through PENDING → RUNNING (waiting on the limit) → COMPLETED, a log
batch, a filter and a count, then the flow run COMPLETED. Afterwards it checks: zero 5xx,
zero "database is locked" in the server's log, every run's history consistent
(``tests.stress.consistency``), and server memory flat (RSS sampled every 2 s; the last
quarter's peak within 50 % of the first quarter's). Figures are printed; exits non-zero
on any failed check.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any

from tests.stress.harness import ROOT, Server, add_database_arguments, database_targets, request, rss_kib

LIMITED_TAG = "soak-limited"


class Tally:
    """Status codes and latencies, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.lifecycles = 0

    def call(self, base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        started = time.monotonic()
        try:
            status, answer = request(base, method, path, body)
        except OSError as error:
            status, answer = 599, str(error)
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(time.monotonic() - started)
            if status >= 500:
                self.failures.append(f"{method} {path}: {status} {str(answer)[:200]}")
        return status, answer


def set_state(tally: Tally, base: str, kind: str, run_id: str, state_type: str, deadline: float) -> str:
    """Propose a state, waiting as told (a limit's WAIT) until accepted or out of time."""
    while True:
        _, answer = tally.call(base, "POST", f"/{kind}/{run_id}/set_state", {"state": {"type": state_type}})
        verdict = answer.get("status") if isinstance(answer, dict) else None
        if verdict != "WAIT" or time.monotonic() > deadline:
            return str(verdict)
        delay = (answer.get("details") or {}).get("delay_seconds") or 0.2
        time.sleep(min(float(delay), 0.5))


def client(tally: Tally, base: str, flow_id: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        _, run = tally.call(base, "POST", "/flow_runs/", {"flow_id": flow_id, "state": {"type": "PENDING"}})
        if not isinstance(run, dict) or "id" not in run:
            continue
        set_state(tally, base, "flow_runs", run["id"], "RUNNING", deadline)
        tasks = []
        for index in range(3):
            _, task = tally.call(
                base,
                "POST",
                "/task_runs/",
                {
                    "flow_run_id": run["id"],
                    "task_key": "soak-task",
                    "dynamic_key": f"{index}-{uuid.uuid4().hex[:8]}",
                    "tags": [LIMITED_TAG] if index < 2 else ["soak-free"],
                    "state": {"type": "PENDING"},
                },
            )
            if isinstance(task, dict) and "id" in task:
                tasks.append(task["id"])
        for task_id in tasks:
            if set_state(tally, base, "task_runs", task_id, "RUNNING", deadline + 30) == "ACCEPT":
                tally.call(
                    base,
                    "POST",
                    "/logs/",
                    [
                        {
                            "name": "soak",
                            "level": 20,
                            "message": f"line {n}",
                            "timestamp": "2024-01-01T00:00:00Z",
                            "flow_run_id": run["id"],
                            "task_run_id": task_id,
                        }
                        for n in range(20)
                    ],
                )
            set_state(tally, base, "task_runs", task_id, "COMPLETED", deadline + 30)
        tally.call(
            base, "POST", "/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}, "limit": 20}
        )
        tally.call(base, "POST", "/task_runs/count", {"task_runs": {"tags": {"all_": [LIMITED_TAG]}}})
        tally.call(base, "POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [run["id"]]}}, "limit": 50})
        set_state(tally, base, "flow_runs", run["id"], "COMPLETED", deadline + 30)
        with tally.lock:
            tally.lifecycles += 1


def soak_one(*, label: str, port: int, database_url: str | None, seconds: int, clients: int) -> bool:
    server = Server(port=port, database_url=database_url)
    server.prepare()
    server.start("server")
    base = server.base_url
    tally = Tally()
    samples: list[int] = []
    try:
        _, flow = request(base, "POST", "/flows/", {"name": "soak-flow"})
        request(base, "POST", "/concurrency_limits/", {"tag": LIMITED_TAG, "concurrency_limit": 2})
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=client, args=(tally, base, flow["id"], deadline)) for _ in range(clients)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            samples.append(rss_kib(server.pid("server")))
            time.sleep(2)
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    done = subprocess.run(
        [sys.executable, "-m", "tests.stress.consistency"],
        env=server.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    log = server.log_text()
    locked = log.lower().count("database is locked")
    server_errors = sum(count for status, count in tally.statuses.items() if status >= 500)
    quarter = max(1, len(samples) // 4)
    first_peak, last_peak = max(samples[:quarter] or [0]), max(samples[-quarter:] or [0])
    growth = (last_peak - first_peak) / first_peak if first_peak else 0.0
    requests = sum(tally.statuses.values())
    latencies = sorted(tally.latencies) or [0.0]
    print(f"== soak on {label}: {clients} clients, {seconds}s")
    print(f"   lifecycles completed: {tally.lifecycles}; requests: {requests} ({requests / seconds:.1f}/s)")
    print(f"   statuses: {dict(sorted(tally.statuses.items()))}")
    print(
        f"   latency: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    print(f"   5xx: {server_errors}; 'database is locked': {locked}")
    print(f"   runs checked: {report['runs']}; history problems: {len(report['problems'])}")
    for problem in report["problems"][:20]:
        print(f"     {problem}")
    for failure in tally.failures[:10]:
        print(f"     {failure}")
    print(
        f"   server RSS (all processes): first-quarter peak {first_peak / 1024:.0f} MiB, "
        f"last-quarter peak {last_peak / 1024:.0f} MiB ({growth:+.0%}), {len(samples)} samples"
    )
    clean = server_errors == 0 and locked == 0 and not report["problems"] and growth <= 0.5 and tally.lifecycles > 0
    print(f"   {'clean' if clean else 'FAILED'}")
    return clean


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser, port=4472)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--clients", type=int, default=8)
    options = parser.parse_args(argv)
    targets = database_targets(parser, options)
    clean = True
    for label, url in targets:
        clean &= soak_one(
            label=label, port=options.port, database_url=url, seconds=options.seconds, clients=options.clients
        )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
