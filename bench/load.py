"""Closed-loop load on the PERFORMANCE.md workloads, one after the other.

    .venv/bin/python -m bench.load --base-url http://127.0.0.1:4200/api --seconds 20 --concurrency 8

Each workload runs ``--concurrency`` threads for ``--warmup`` seconds (not counted) and then
``--seconds`` seconds; every thread keeps one request in flight on its own keep-alive
connection (``http.client``, stdlib only) and sends ``X-PREFECT-API-VERSION: 0.8.4``.
A request is an error when it fails, times out, answers a status other than the expected
one, (set_state) the orchestration does not ACCEPT, or the answer is wrong: read one gives
the run asked for, the recent page its 50 runs newest first, every nested-filter row
matches the filter, the count and the history's total equal what the server counted
before the load. One row per workload: requests/s, p50 and p99 latency, errors.
``run lifecycle`` counts whole lifecycles (create SCHEDULED → PENDING → RUNNING →
COMPLETED, four requests); ``task run lifecycle`` a task run inside a RUNNING flow run
(create PENDING → RUNNING → COMPLETED, three requests); ``bulk log write`` one
``POST /logs/`` of 100 lines. What users send (issue #23): ``history off the hour`` (30
daily intervals from "now - 30 days", a new window each request), ``nested filter by
name`` (the nested filter sorted by expected start), and the page loads of the stock
dashboard (``dashboard page``, ``flow runs page``, ``flow page``, ``flow run page``: every
call of the page, a wave at a time, six at once as a browser sends them; ``bench.pages``).

With ``--server-pids`` (the API server's main process and the postmaster, on Linux) each row also
shows the CPU milliseconds the server and its database spent per request and the share
of one core they got: a figure that does not depend on the load other programs put on a
shared machine, and a way to see that they did (share well under 100 %).

Only ``127.0.0.1`` is accepted as a target. Every loop is bounded in time (``--seconds``,
``--warmup``, ``--timeout`` per request) and in count (``--max-requests`` per workload).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import random
import re
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "0.8.4"
ALLOWED_HOSTS = ("127.0.0.1",)


class RequestFailed(Exception):
    """A request that counts as an error."""


class Client:
    """One keep-alive HTTP/1.1 connection to the server (one per thread)."""

    def __init__(self, host: str, port: int, prefix: str, timeout: float) -> None:
        self.host, self.port, self.prefix, self.timeout = host, port, prefix.rstrip("/"), timeout
        self.conn: http.client.HTTPConnection | None = None
        self.headers = {
            "X-PREFECT-API-VERSION": API_VERSION,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> bytes:
        """Send one request; retry once (uncounted) if a reused connection was closed."""
        payload = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, self.prefix + path, body=payload, headers=self.headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self.close()
                if reused and attempt == 1:
                    continue
                raise RequestFailed(repr(error)) from None
            except (OSError, http.client.HTTPException) as error:
                self.close()
                raise RequestFailed(repr(error)) from None
            if response.will_close:
                self.close()
            if response.status not in expect:
                raise RequestFailed(f"{method} {path}: HTTP {response.status} {data[:200]!r}")
            return data
        raise RequestFailed("unreachable")

    def json(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        return json.loads(self.call(method, path, body, expect))


# ------------------------------------------------------------------------ workloads


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


@dataclass
class Fixtures:
    """Ids read from the server before the measurement."""

    run_ids: list[str]
    runs_with_tasks: list[str]
    flow_ids: list[str]
    like: str
    tags: list[str]
    completed_count: int = -1  # the answer of the count workload
    history_total: int = -1  # runs in the 30 days the history workload asks for
    history_window: tuple[str, str] = ("", "")
    created: list[str] = field(default_factory=list)  # run ids the write workloads made
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: dict[int, str] = field(default_factory=dict)  # a RUNNING flow run per thread
    browsers: dict[int, Browser] = field(default_factory=dict)  # a page-loading browser per thread

    def remember(self, run_id: str) -> None:
        with self.lock:
            self.created.append(run_id)


class Browser:
    """What a browser is to one host: ``pages.BROWSER_CONNECTIONS`` keep-alive connections,
    a wave of calls sent over them at once."""

    def __init__(self, like: Client) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from bench.pages import BROWSER_CONNECTIONS

        self.local = threading.local()
        self.like = like
        self.clients: list[Client] = []
        self.pool = ThreadPoolExecutor(BROWSER_CONNECTIONS)

    def _client(self) -> Client:
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = Client(self.like.host, self.like.port, self.like.prefix, self.like.timeout)
            self.clients.append(client)
        return client

    def _send(self, call: tuple[str, str, Any]) -> Any:
        method, path, body = call
        return self._client().json(method, path, body)

    def load(self, page: Any) -> int:
        """Send every wave of ``page`` (a ``bench.pages`` generator); the number of calls."""
        calls = 0
        wave = next(page)
        while True:
            answers = list(self.pool.map(self._send, wave))
            calls += len(wave)
            try:
                wave = page.send(answers)
            except StopIteration:
                return calls

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for client in self.clients:
            client.close()


def check(condition: bool, message: str) -> None:
    """A wrong answer counts as an error: it is not fast."""
    if not condition:
        raise RequestFailed(f"wrong answer: {message}")


def load_fixtures(client: Client, like: str, tags: list[str]) -> Fixtures:
    run_ids: list[str] = []
    for sort in ("ID_DESC", "EXPECTED_START_TIME_DESC", "NAME_ASC"):
        rows = client.json("POST", "/flow_runs/filter", {"sort": sort, "limit": 100})
        run_ids.extend(row["id"] for row in rows)
    tasks = client.json("POST", "/task_runs/filter", {"sort": "ID_DESC", "limit": 200})
    runs_with_tasks = sorted({row["flow_run_id"] for row in tasks if row.get("flow_run_id")})
    flows = client.json("POST", "/flows/filter", {"limit": 100})
    if not run_ids or not flows:
        raise SystemExit("the server has no flows or flow runs: seed it first (python -m bench.seed)")
    fixtures = Fixtures(
        run_ids=sorted(set(run_ids)),
        runs_with_tasks=runs_with_tasks or run_ids[:10],
        flow_ids=[row["id"] for row in flows],
        like=like,
        tags=tags,
    )
    fixtures.completed_count = client.json("POST", "/flow_runs/count", COUNT_BODY)
    body = history_body()
    fixtures.history_window = (body["history_start"], body["history_end"])
    window = {"expected_start_time": {"after_": body["history_start"], "before_": body["history_end"]}}
    fixtures.history_total = client.json("POST", "/flow_runs/count", {"flow_runs": window})
    return fixtures


Workload = Callable[[Client, random.Random, Fixtures], None]


def read_one_run(client: Client, rng: random.Random, fx: Fixtures) -> None:
    run_id = rng.choice(fx.run_ids)
    check(client.json("GET", f"/flow_runs/{run_id}")["id"] == run_id, "read one: another run")


def recent_runs_page(client: Client, rng: random.Random, fx: Fixtures) -> None:
    rows = client.json("POST", "/flow_runs/filter", {"sort": "EXPECTED_START_TIME_DESC", "limit": 50})
    times = [row["expected_start_time"] for row in rows]
    check(len(rows) == 50 and times == sorted(times, reverse=True), "recent runs: not the 50 newest in order")


def nested_filter_body(fx: Fixtures, sort: str | None) -> dict[str, Any]:
    week_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    body: dict[str, Any] = {
        "flows": {"name": {"like_": fx.like}},
        "flow_runs": {
            "state": {"type": {"any_": ["FAILED", "CRASHED"]}},
            "tags": {"all_": fx.tags},
            "expected_start_time": {"after_": iso(week_ago)},
        },
        "limit": 50,
    }
    if sort:
        body["sort"] = sort
    return body


def nested_filter(sort: str | None) -> Workload:
    def run(client: Client, rng: random.Random, fx: Fixtures) -> None:
        body = nested_filter_body(fx, sort)
        rows = client.json("POST", "/flow_runs/filter", body)
        after = body["flow_runs"]["expected_start_time"]["after_"]
        check(
            all(
                row["state_type"] in ("FAILED", "CRASHED")
                and set(fx.tags) <= set(row["tags"])
                and dt.datetime.fromisoformat(row["expected_start_time"]) >= dt.datetime.fromisoformat(after)
                for row in rows
            ),
            "nested filter: a run that does not match",
        )

    return run


COUNT_BODY = {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}


def count_by_state(client: Client, rng: random.Random, fx: Fixtures) -> None:
    answer = client.json("POST", "/flow_runs/count", COUNT_BODY)
    check(answer == fx.completed_count, f"count: {answer} != {fx.completed_count}")


def history_body() -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "history_start": iso(now - dt.timedelta(days=30)),
        "history_end": iso(now),
        "history_interval_seconds": 86_400,
    }


def history_30_days(client: Client, rng: random.Random, fx: Fixtures) -> None:
    start, end = fx.history_window  # the window the expected total was counted in
    body = {"history_start": start, "history_end": end, "history_interval_seconds": 86_400}
    intervals = client.json("POST", "/flow_runs/history", body)
    total = sum(state["count_runs"] for interval in intervals for state in interval["states"])
    check(total == fx.history_total, f"history: {total} runs != {fx.history_total}")


def task_runs_of_a_run(client: Client, rng: random.Random, fx: Fixtures) -> None:
    run_id = rng.choice(fx.runs_with_tasks)
    rows = client.json("POST", "/task_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}})
    check(bool(rows) and all(row["flow_run_id"] == run_id for row in rows), "task runs: another run's")


def metrics_scrape(client: Client, rng: random.Random, fx: Fixtures) -> None:
    """``GET /api/metrics`` as Prometheus scrapes it (this server only: not in the reference)."""
    text = client.call("GET", "/metrics")
    check(b"orion_flow_runs{" in text and b"orion_late_flow_runs" in text, "metrics: gauges missing")


def history_off_the_hour(client: Client, rng: random.Random, fx: Fixtures) -> None:
    """What the dashboard's history asks: 30 daily intervals from "now - 30 days" as the
    browser's clock gives it, so every interval bound cuts an hour."""
    now = dt.datetime.now(dt.UTC)
    body = {
        "history_start": iso(now - dt.timedelta(days=30)),
        "history_end": iso(now),
        "history_interval_seconds": 86_400,
    }
    intervals = client.json("POST", "/flow_runs/history", body)
    check(len(intervals) == 30, f"history: {len(intervals)} intervals, not 30")


def _browser(client: Client, fx: Fixtures) -> Browser:
    key = threading.get_ident()
    with fx.lock:
        if key not in fx.browsers:
            fx.browsers[key] = Browser(client)
        return fx.browsers[key]


def page_load(name: str) -> Workload:
    """One load of a dashboard page (``bench.pages``): all its calls, a wave at a time."""
    from bench import pages

    def run(client: Client, rng: random.Random, fx: Fixtures) -> None:
        now = dt.datetime.now(dt.UTC)
        page = {
            "dashboard page": lambda: pages.dashboard(now),
            "flow runs page": lambda: pages.flow_runs(now),
            "flow page": lambda: pages.flow(now, rng.choice(fx.flow_ids)),
            "flow run page": lambda: pages.flow_run(now, rng.choice(fx.runs_with_tasks)),
        }[name]()
        check(_browser(client, fx).load(page) > 0, f"{name}: no calls")

    return run


PAGES = ("dashboard page", "flow runs page", "flow page", "flow run page")


def _create_body(rng: random.Random, fx: Fixtures, state: dict[str, Any]) -> dict[str, Any]:
    return {"flow_id": rng.choice(fx.flow_ids), "tags": ["bench", "load"], "state": state}


def create_run(client: Client, rng: random.Random, fx: Fixtures) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    state = {"type": "SCHEDULED", "state_details": {"scheduled_time": iso(later)}}
    run = client.json("POST", "/flow_runs/", _create_body(rng, fx, state), expect=(201,))
    fx.remember(run["id"])


def run_lifecycle(client: Client, rng: random.Random, fx: Fixtures) -> None:
    now = dt.datetime.now(dt.UTC)
    state = {"type": "SCHEDULED", "state_details": {"scheduled_time": iso(now)}}
    run = client.json("POST", "/flow_runs/", _create_body(rng, fx, state), expect=(201,))
    fx.remember(run["id"])
    for state_type in ("PENDING", "RUNNING", "COMPLETED"):
        result = client.json(
            "POST", f"/flow_runs/{run['id']}/set_state", {"state": {"type": state_type}}, expect=(200, 201)
        )
        if result.get("status") != "ACCEPT":
            raise RequestFailed(f"set_state {state_type}: {result.get('status')} {result.get('details')}")


def _running_flow_run(client: Client, rng: random.Random, fx: Fixtures) -> str:
    """This thread's flow run, created and moved to RUNNING on first use."""
    key = threading.get_ident()
    if key not in fx.running:
        run = client.json("POST", "/flow_runs/", _create_body(rng, fx, {"type": "PENDING"}), expect=(201,))
        fx.remember(run["id"])
        result = client.json("POST", f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}}, expect=(201,))
        check(result.get("status") == "ACCEPT", "flow run did not start")
        fx.running[key] = run["id"]
    return fx.running[key]


def task_run_lifecycle(client: Client, rng: random.Random, fx: Fixtures) -> None:
    """What a flow does per task: create it PENDING, then RUNNING, then COMPLETED."""
    flow_run_id = _running_flow_run(client, rng, fx)
    body = {
        "flow_run_id": flow_run_id,
        "task_key": "bench-task",
        "dynamic_key": f"{rng.getrandbits(64):x}",
        "name": "bench-task-0",
        "state": {"type": "PENDING"},
    }
    task = client.json("POST", "/task_runs/", body, expect=(200, 201))
    check(task.get("state", {}).get("type") == "PENDING", "task run not created PENDING")
    for state_type in ("RUNNING", "COMPLETED"):
        result = client.json(
            "POST", f"/task_runs/{task['id']}/set_state", {"state": {"type": state_type}}, expect=(200, 201)
        )
        check(result.get("status") == "ACCEPT", f"task set_state {state_type}: {result.get('status')}")


LOG_BATCH = 100


def bulk_log_write(client: Client, rng: random.Random, fx: Fixtures) -> None:
    """One ``POST /logs/`` of ``LOG_BATCH`` lines, as the client's log worker sends them."""
    flow_run_id = rng.choice(fx.run_ids)
    now = iso(dt.datetime.now(dt.UTC))
    lines = [
        {"name": "prefect.flow_runs", "level": 20, "message": f"bench line {i}", "timestamp": now,
         "flow_run_id": flow_run_id, "task_run_id": None}
        for i in range(LOG_BATCH)
    ]  # fmt: skip
    client.call("POST", "/logs/", lines, expect=(201,))


def workloads(nested_sort: str | None) -> list[tuple[str, Workload]]:
    return [
        ("read one run", read_one_run),
        ("recent runs page", recent_runs_page),
        ("nested filter", nested_filter(nested_sort)),
        ("count by state", count_by_state),
        ("30-day history", history_30_days),
        ("task runs of a run", task_runs_of_a_run),
        ("create a run", create_run),
        ("run lifecycle", run_lifecycle),
        ("task run lifecycle", task_run_lifecycle),
        ("bulk log write", bulk_log_write),
        ("metrics scrape", metrics_scrape),
        ("history off the hour", history_off_the_hour),
        ("nested filter by name", nested_filter("EXPECTED_START_TIME_DESC")),
        *[(name, page_load(name)) for name in PAGES],
    ]


# ------------------------------------------------------------------------- driver


def process_tree_cpu(roots: Sequence[int], *, reaped: bool = False, database: str | None = None) -> float | None:
    """CPU seconds (user + system) used so far by ``roots`` and all their descendants
    (Linux ``/proc``; ``None`` elsewhere or without roots); ``reaped``: with the children
    they have already reaped (a PostgreSQL backend that exits leaves its CPU there);
    ``database``: of the PostgreSQL processes, count only that database's backends (not
    those of other databases, nor the cluster's own processes, which a seed into the
    same cluster meanwhile keeps busy writing)."""
    if not roots:
        return None
    import os

    try:
        ticks = os.sysconf("SC_CLK_TCK")
        entries = [name for name in os.listdir("/proc") if name.isdigit()]
    except (OSError, ValueError, AttributeError):
        return None
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for name in entries:
        try:
            with open(f"/proc/{name}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        pid = int(name)
        parent[pid] = int(fields[1])
        cpu[pid] = sum(int(value) for value in fields[11 : 15 if reaped else 13]) / ticks
    wanted = set(roots)
    for _ in range(8):  # the trees are shallow (master → workers, postmaster → backends)
        wanted |= {pid for pid, ppid in parent.items() if ppid in wanted}
    if database is not None:
        wanted = {pid for pid in wanted if _database_of(pid) in (None, database)}
    return sum(cpu.get(pid, 0.0) for pid in wanted)


_BACKEND = re.compile(r"^postgres: \S+ (\S+) (?:\S+\(\d+\)|\[local\])")


def _database_of(pid: int) -> str | None:
    """The database of PostgreSQL backend ``pid`` (from its process title), ``""`` for
    the cluster's other processes, ``None`` for any other process."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            title = handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    if not title.startswith("postgres: "):
        return None
    match = _BACKEND.match(title)
    return match.group(1) if match else ""


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    server_cpu: float | None = None  # CPU seconds of --server-pids trees in the window
    attempts: int = 1

    def cpu_ms_per_request(self) -> float | None:
        if self.server_cpu is None or not self.done:
            return None
        return self.server_cpu * 1000 / self.done

    def core_share(self) -> float | None:
        return None if self.server_cpu is None else self.server_cpu / self.seconds

    @property
    def done(self) -> int:
        return len(self.latencies)

    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, share: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
        return ordered[index]


def run_workload(
    name: str,
    work: Workload,
    *,
    target: tuple[str, int, str],
    fixtures: Fixtures,
    concurrency: int,
    seconds: float,
    warmup: float,
    timeout: float,
    max_requests: int,
    seed: int,
    server_pids: Sequence[int] = (),
    server_database: str | None = None,
) -> Result:
    """Run ``work`` closed-loop on ``concurrency`` threads; only the measured window counts."""
    result = Result(name)
    lock = threading.Lock()
    begin = time.monotonic()
    measure_from = begin + warmup
    deadline = measure_from + seconds
    issued = [0]
    last_end = [measure_from]

    def worker(index: int) -> None:
        client = Client(*target, timeout=timeout)
        rng = random.Random(seed * 1000 + index)
        try:
            while True:
                start = time.monotonic()
                if start >= deadline:
                    return
                counted = start >= measure_from
                if counted:
                    with lock:
                        if issued[0] >= max_requests:
                            return
                        issued[0] += 1
                error: str | None = None
                try:
                    work(client, rng, fixtures)
                except RequestFailed as failure:
                    error = str(failure)
                except (ValueError, KeyError, TypeError) as failure:  # unparsable or unexpected body
                    error = repr(failure)
                end = time.monotonic()
                if not counted:
                    continue
                with lock:
                    last_end[0] = max(last_end[0], end)
                    if error is None:
                        result.latencies.append(end - start)
                    else:
                        result.errors += 1
                        result.first_error = result.first_error or error
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.monotonic()))
    cpu_before = process_tree_cpu(server_pids, database=server_database)
    time.sleep(max(0.0, deadline - time.monotonic()))
    cpu_after = process_tree_cpu(server_pids, database=server_database)
    for thread in threads:
        thread.join(timeout=2 * timeout + 5)
    result.seconds = max(last_end[0] - measure_from, 1e-9)
    if cpu_before is not None and cpu_after is not None:
        # CPU over [measure_from, deadline]; requests finishing after the deadline are few.
        result.server_cpu = (cpu_after - cpu_before) * result.seconds / seconds
    return result


def delete_created(target: tuple[str, int, str], fixtures: Fixtures, concurrency: int, timeout: float) -> int:
    """Delete the runs the write workloads created, so the data set keeps its size.

    Bounded: one DELETE per remembered id, each with the socket timeout."""
    with fixtures.lock:
        pending = list(fixtures.created)
        fixtures.created.clear()
        fixtures.running.clear()  # those flow runs are among the deleted
    failures = [0]
    lock = threading.Lock()

    def worker(ids: list[str]) -> None:
        client = Client(*target, timeout=timeout)
        try:
            for run_id in ids:
                try:
                    client.call("DELETE", f"/flow_runs/{run_id}", expect=(204, 404))
                except RequestFailed:
                    with lock:
                        failures[0] += 1
        finally:
            client.close()

    threads = [
        threading.Thread(target=worker, args=(pending[i::concurrency],), daemon=True) for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(pending) - failures[0]


def parse_target(base_url: str) -> tuple[str, int, str]:
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme != "http" or parts.hostname not in ALLOWED_HOSTS:
        raise SystemExit(f"refusing {base_url!r}: only http://127.0.0.1[:port]/... targets are allowed")
    return parts.hostname, parts.port or 80, parts.path or "/api"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.1f}"


def print_table(results: Sequence[Result], out: Any = sys.stdout) -> None:
    cpu = any(r.server_cpu is not None for r in results)
    extra = " server CPU ms/req | server core % |" if cpu else ""
    print("| workload | req/s | p50 ms | p99 ms | errors | requests |" + extra, file=out)
    print("|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if cpu else ""), file=out)
    for r in results:
        unit = " lifecycles" if r.name.endswith("lifecycle") else ""
        row = f"| {r.name} | {r.rate():.1f}{unit} | {ms(r.percentile(0.5))} | {ms(r.percentile(0.99))} "
        row += f"| {r.errors} | {r.done}{'' if r.attempts == 1 else f' (run {r.attempts}×)'} |"
        if cpu:
            per, share = r.cpu_ms_per_request(), r.core_share()
            row += f" {'—' if per is None else f'{per:.2f}'} | {'—' if share is None else f'{share * 100:.0f}'} |"
        print(row, file=out, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:4200/api")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per workload")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds before each workload")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request socket timeout (s)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per workload")
    parser.add_argument("--only", help="comma-separated workload names (default: all, in table order)")
    parser.add_argument("--like", default="etl", help="flows.name like_ of the nested filter")
    parser.add_argument("--tags", default="prod,etl", help="tags all_ of the nested filter")
    parser.add_argument(
        "--nested-sort", default="", help="sort of the nested filter (default: none, i.e. the server's ID_DESC)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-created", action="store_true", help="do not delete the runs created by the load")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--latencies", action="store_true", help="the JSON file also holds every latency (s)")
    parser.add_argument(
        "--retry-below",
        type=float,
        default=0.0,
        help="with --server-pids: run a workload again when the server got less than this share of its core "
        "(e.g. 0.85; default 0 = never)",
    )
    parser.add_argument("--retries", type=int, default=2, help="at most this many extra runs per workload")
    parser.add_argument(
        "--server-pids",
        default="",
        help="API server main process and postmaster pids: adds server CPU ms per request (their process trees) "
        "and the share of one core they used, which shows interference on a shared machine",
    )
    parser.add_argument("--server-database", help="with --server-pids: count only this database's PostgreSQL backends")
    args = parser.parse_args(argv)
    if not 0 <= args.retries <= 5:
        parser.error("--retries 0..5")
    if not 1 <= args.concurrency <= 64 or not 0 < args.seconds <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--concurrency 1..64, --seconds 0..600, --warmup 0..60")
    target = parse_target(args.base_url)
    try:
        server_pids = [int(pid) for pid in args.server_pids.split(",") if pid.strip()]
    except ValueError:
        parser.error("--server-pids takes comma-separated process ids")
    setup = Client(*target, timeout=args.timeout)
    try:
        fixtures = load_fixtures(setup, args.like, [t for t in args.tags.split(",") if t])
    except RequestFailed as error:
        raise SystemExit(f"cannot read fixtures from {args.base_url}: {error}") from None
    finally:
        setup.close()
    chosen = workloads(args.nested_sort or None)
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        unknown = wanted - {name for name, _ in chosen}
        if unknown:
            parser.error(f"unknown workloads {sorted(unknown)}; known: {[name for name, _ in chosen]}")
        chosen = [(name, work) for name, work in chosen if name in wanted]
    print(
        f"# {args.base_url}: concurrency {args.concurrency}, {args.seconds:g} s per workload "
        f"(+{args.warmup:g} s warm-up), {len(fixtures.run_ids)} run ids, "
        f"{len(fixtures.runs_with_tasks)} runs with task runs",
        flush=True,
    )
    results = []
    for name, work in chosen:
        attempts: list[Result] = []
        for _ in range(1 + (args.retries if server_pids and args.retry_below > 0 else 0)):
            attempt = run_workload(
                name,
                work,
                target=target,
                fixtures=fixtures,
                concurrency=args.concurrency,
                seconds=args.seconds,
                warmup=args.warmup,
                timeout=args.timeout,
                max_requests=args.max_requests,
                seed=args.seed,
                server_pids=server_pids,
                server_database=args.server_database,
            )
            attempts.append(attempt)
            share = attempt.core_share()
            if share is None or share >= args.retry_below:
                break
            print(f"#   {name}: server got {share:.0%} of its core (interference?), running it again", flush=True)
        # The attempt in which the server got the most CPU is the least disturbed one.
        result = max(attempts, key=lambda r: r.core_share() or 0.0)
        result.attempts = len(attempts)
        results.append(result)
        if result.first_error:
            print(f"#   {name}: first error: {result.first_error[:300]}", file=sys.stderr, flush=True)
    for browser in fixtures.browsers.values():
        browser.close()
    print_table(results)
    if fixtures.created and not args.keep_created:
        deleted = delete_created(target, fixtures, args.concurrency, args.timeout)
        print(f"# deleted {deleted} of the runs the write workloads created (--keep-created keeps them)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                [
                    {
                        "workload": r.name,
                        "rate": r.rate(),
                        "p50_ms": (r.percentile(0.5) or 0) * 1000,
                        "p99_ms": (r.percentile(0.99) or 0) * 1000,
                        "errors": r.errors,
                        "requests": r.done,
                        "first_error": r.first_error,
                        "server_cpu_ms_per_request": r.cpu_ms_per_request(),
                        "server_core_share": r.core_share(),
                        "attempts": r.attempts,
                        "seconds": r.seconds,
                        **({"latencies": r.latencies} if args.latencies else {}),
                    }
                    for r in results
                ],
                handle,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
