"""Event ingest at one core: ``POST /events`` and the ``/events/in`` websocket (``make bench-ingest``).

    .venv/bin/python -m bench.ingest [--db both|postgres|sqlite] [--seconds 8]
                                     [--ws-connections 1,8] [--reference start|URL]

This server runs as shipped (``orion_start --no-services --workers 1``) pinned with
``taskset`` to ``--server-cpu``, on PostgreSQL (a throwaway cluster whose postmaster, so
every backend, is pinned to the same core; ``PG_PORT`` / ``PG_THROWAWAY_STATE`` choose its
port and state file) and on a SQLite file. The producer is a separate process pinned to
``--load-cpu``; each scenario sends events for ``--seconds``, as fast as the server takes
them:

* ``POST /events`` with batches of 1, 10 and 100 events, ``--post-connections`` keep-alive
  connections, each waiting for its answer before the next batch;
* ``/events/in`` with N connections (``--ws-connections``), each sending one event per
  message and a ping every 20 messages, waiting for its pong: what the 2.20 client's
  ``PrefectEventsClient`` does (its "checkpoint").

Each scenario's events carry their own name. Accepted: the events of 2xx answers (POST),
the events a pong confirmed (websocket). Stored: the rows of that name read from the
database once the count has settled (the websocket writes what it received after the
last pong too); a stored count below the accepted one fails the run. Server CPU: user +
system of the server's process tree and of PostgreSQL's, over the scenario and its
settling, per 1,000 stored events.

``--reference start`` starts the 2.20 server from the compatibility suite's client venv
(``PREFECT_EXPERIMENTAL_EVENTS=true``, its own SQLite file, or
``--reference-database-url`` through asyncpg), pinned like ours; ``--reference URL`` uses
one already running (its CPU is read if ``ss`` names the process on that port). Its
stored count is its own ``POST /events/filter`` total for the scenario's name.

Prints a markdown table. Bounded: 5 scenarios x ``--seconds`` (+ settling) per server.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.compare import PY, ROOT, Cluster, Server, log, ours, pinned
from bench.load import process_tree_cpu

CHECKPOINT_EVERY = 20  # the 2.20 client's ping interval, in events
RESOURCES = 100
Naming = Callable[[int], str] | None


# ------------------------------------------------------------------------- producer


def event(name: str, number: int) -> dict[str, Any]:
    """One event as the 2.20 client sends it (``Event.json()``)."""
    return {
        "occurred": dt.datetime.now(dt.UTC).isoformat(),
        "event": name,
        "resource": {"prefect.resource.id": f"bench.ingest.{number % RESOURCES}", "prefect.resource.name": "bench"},
        "related": [{"prefect.resource.id": "bench.ingest.source", "prefect.resource.role": "source"}],
        "payload": {"n": number},
        "id": str(uuid.uuid4()),
        "follows": None,
    }


@dataclass
class Produced:
    sent: int = 0
    accepted: int = 0
    errors: int = 0
    first_error: str = ""

    def fail(self, message: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or message


def produce_posts(
    base_url: str, name: str, batch: int, connections: int, seconds: float, rate: int = 0, naming: Naming = None
) -> Produced:
    """``connections`` threads posting ``batch`` events at a time until ``seconds``: as
    fast as answered, or (``rate``) a batch every ``batch / rate`` seconds on a fixed
    schedule, whichever thread is free sending it. ``naming``: the name of event number n
    (else ``name``)."""
    parts = urlsplit(base_url)
    result = Produced()
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds
    numbers = itertools.count()
    ticks = itertools.count()

    def worker() -> None:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
        while time.monotonic() < deadline:
            if rate:
                due = started + next(ticks) * batch / rate
                if due >= deadline:
                    break
                time.sleep(max(0.0, due - time.monotonic()))
            first = next(numbers) * batch
            events = [event(naming(n) if naming else name, n) for n in range(first, first + batch)]
            body = json.dumps(events).encode()
            try:
                connection.request(
                    "POST", f"{parts.path}/events", body=body, headers={"content-type": "application/json"}
                )
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    result.sent += batch
                    result.fail(repr(error))
                connection.close()
                continue
            with lock:
                result.sent += batch
                if 200 <= response.status < 300:
                    result.accepted += batch
                else:
                    result.fail(f"{response.status} {answer[:200]!r}")
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


async def _produce_socket(base_url: str, name: str, connections: int, seconds: float) -> Produced:
    import websockets

    url = base_url.replace("http://", "ws://").rstrip("/") + "/events/in"
    result = Produced()
    deadline = time.monotonic() + seconds

    async def one(index: int) -> None:
        number = index * 10_000_000
        unconfirmed = 0
        try:
            async with websockets.connect(url, max_size=None) as socket:
                while time.monotonic() < deadline:
                    await socket.send(json.dumps(event(name, number)))
                    number += 1
                    result.sent += 1
                    unconfirmed += 1
                    if unconfirmed >= CHECKPOINT_EVERY:
                        await (await socket.ping())
                        result.accepted += unconfirmed
                        unconfirmed = 0
                await (await socket.ping())
                result.accepted += unconfirmed
        except (OSError, websockets.WebSocketException) as error:
            result.fail(repr(error))

    await asyncio.gather(*(one(index) for index in range(connections)))
    return result


def produce(args: argparse.Namespace) -> int:
    """The producer process: one scenario, its counts as one JSON line."""
    if args.mode == "post":
        every, matching = args.match_every, args.match_name

        def naming(number: int) -> str:
            return matching if every and number % every == 0 else args.name

        result = produce_posts(args.url, args.name, args.batch, args.connections, args.seconds, args.rate, naming)
    else:
        result = asyncio.run(_produce_socket(args.url, args.name, args.connections, args.seconds))
    print(json.dumps(result.__dict__))
    return 0


# ------------------------------------------------------------------------- driver


@dataclass
class Scenario:
    label: str
    mode: str  # "post" or "socket"
    batch: int
    connections: int


@dataclass
class Row:
    target: str
    scenario: str
    seconds: float
    produced: Produced
    stored: int | None
    cpu: float | None

    @property
    def accepted_rate(self) -> float:
        return self.produced.accepted / self.seconds

    @property
    def stored_rate(self) -> float | None:
        return None if self.stored is None else self.stored / self.seconds

    @property
    def cpu_per_1000(self) -> float | None:
        if self.cpu is None or not self.stored:
            return None
        return self.cpu * 1000 * 1000 / self.stored


@dataclass
class Target:
    """A server measured: its API URL, how to count a scenario's stored events, the pids
    whose process trees are its CPU."""

    label: str
    base_url: str
    count: Callable[[str], int]
    pids: list[int]


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    found = [Scenario(f"POST /events, batch {size}", "post", size, args.post_connections) for size in (1, 10, 100)]
    for connections in (int(item) for item in args.ws_connections.split(",") if item):
        plural = "s" if connections > 1 else ""
        found.append(Scenario(f"/events/in, {connections} connection{plural}", "socket", 1, connections))
    return found


def settle(count: Callable[[], int], floor: int, timeout: float = 30.0) -> int:
    """The count once it has stopped moving (and reached ``floor``), or at ``timeout``."""
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        now = count()
        if (now == last and now >= floor) or time.monotonic() > deadline:
            return now
        last = now
        time.sleep(0.5)


def measure(target: Target, scenario: Scenario, args: argparse.Namespace) -> Row:
    name = f"bench.ingest.{uuid.uuid4().hex[:12]}"
    command = [PY, "-m", "bench.ingest", "produce", "--url", target.base_url, "--name", name,
               "--mode", scenario.mode, "--batch", str(scenario.batch),
               "--connections", str(scenario.connections), "--seconds", str(args.seconds)]  # fmt: skip
    before = process_tree_cpu(target.pids, reaped=True)
    started = time.monotonic()
    done = subprocess.run(pinned(command, args.load_cpu), cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"producer failed: {done.stderr[-2000:]}")
    produced = Produced(**json.loads(done.stdout.strip().splitlines()[-1]))
    stored = settle(lambda: target.count(name), produced.accepted)
    after = process_tree_cpu(target.pids, reaped=True)
    seconds = min(time.monotonic() - started, args.seconds)
    cpu = None if before is None or after is None else after - before
    row = Row(target.label, scenario.label, seconds, produced, stored, cpu)
    log(
        f"{target.label} | {scenario.label}: {produced.accepted} accepted, {stored} stored, "
        f"{produced.errors} errors {produced.first_error[:120]}"
    )
    return row


def database_counter(url: str | None, sqlite_path: Path | None) -> Callable[[str], int]:
    """Count a name's rows in our database directly (not through the API under test)."""
    if url:
        import psycopg

        def count_pg(name: str) -> int:
            with psycopg.connect(url, autocommit=True) as connection:
                row = connection.execute("SELECT count(*) FROM events_app_event WHERE event = %s", (name,)).fetchone()
            return int(row[0]) if row else 0

        return count_pg
    import sqlite3

    def count_sqlite(name: str) -> int:
        with sqlite3.connect(str(sqlite_path), timeout=30) as connection:
            return int(
                connection.execute("SELECT count(*) FROM events_app_event WHERE event = ?", (name,)).fetchone()[0]
            )

    return count_sqlite


def api_counter(base_url: str) -> Callable[[str], int]:
    """Count a name's events through the server's own ``POST /events/filter``."""

    def count(name: str) -> int:
        now = dt.datetime.now(dt.UTC)
        body = {
            "filter": {
                "event": {"name": [name]},
                "occurred": {"since": (now - dt.timedelta(hours=1)).isoformat(), "until": now.isoformat()},
            },
            "limit": 1,
        }
        parts = urlsplit(base_url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=120)
        connection.request("POST", f"{parts.path}/events/filter", body=json.dumps(body).encode(),
                           headers={"content-type": "application/json"})  # fmt: skip
        answer = json.loads(connection.getresponse().read())
        connection.close()
        return int(answer["total"])

    return count


def listening_pid(port: int) -> int | None:
    """The process listening on ``port`` as ``ss`` names it (``None`` if it cannot)."""
    if not shutil.which("ss"):
        return None
    done = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=False)
    found = re.search(r"pid=(\d+)", done.stdout)
    return int(found.group(1)) if found else None


def start_reference(args: argparse.Namespace, workdir: Path, cpu: str | None) -> Server:
    """The 2.20 server with events on, from the compatibility suite's client venv."""
    from tests.compat.run import client_python

    python = client_python("2.20")
    home = workdir / "prefect-home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{python.parent}:{os.environ.get('PATH', '')}",
        "PREFECT_HOME": str(home),
        "PREFECT_EXPERIMENTAL_EVENTS": "true",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_SERVER_LEVEL": "WARNING",
        "PREFECT_API_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_API_SERVICES_LATE_RUNS_ENABLED": "false",
        "PREFECT_API_SERVICES_FLOW_RUN_NOTIFICATIONS_ENABLED": "false",
    }
    if args.reference_database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = args.reference_database_url.replace(
            "postgresql://", "postgresql+asyncpg://"
        )
    command = [str(python.parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(args.reference_port)]  # fmt: skip
    server = Server("prefect-2.20", args.reference_port, "reference", command, env, version="2.20")
    server.start(cpu, workdir)
    return server


def print_table(rows: Sequence[Row], out: Any = sys.stdout) -> None:
    def number(value: float | None, digits: int = 0) -> str:
        return "–" if value is None else f"{value:,.{digits}f}"

    print("| server | scenario | accepted events/s | stored events/s | stored / accepted | server CPU ms per 1,000 events | errors |", file=out)  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|", file=out)
    for row in rows:
        share = "–" if row.stored is None else f"{row.stored:,} / {row.produced.accepted:,}"
        print(
            f"| {row.target} | {row.scenario} | {number(row.accepted_rate)} | {number(row.stored_rate)} | {share} |"
            f" {number(row.cpu_per_1000)} | {row.produced.errors} |",
            file=out,
        )


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    server_cpu = None if args.no_pin else args.server_cpu
    if args.no_pin:
        args.load_cpu = None
    cluster: Cluster | None = None
    rows: list[Row] = []
    port = args.port
    try:
        databases: list[tuple[str, str | None]] = []
        if args.db in ("postgres", "both"):
            state = Path(os.environ.get("PG_THROWAWAY_STATE") or workdir / "pg.env")
            cluster = Cluster(state)
            cluster.start(server_cpu)
            cluster.sql("postgres", "CREATE DATABASE ingest")
            databases.append((f"ours, PostgreSQL {cluster.version.split()[0]}", cluster.url("ingest")))
        if args.db in ("sqlite", "both"):
            databases.append(("ours, SQLite", None))
        for label, url in databases:
            sqlite_path = workdir / "orion.sqlite3"
            server = ours(url or f"sqlite:///{sqlite_path}", port, workers=1)
            server.start(server_cpu, workdir)
            assert server.process is not None
            pids = [server.process.pid] + ([cluster.postmaster] if url and cluster else [])
            target = Target(label, server.base_url, database_counter(url, sqlite_path), pids)
            try:
                rows.extend(measure(target, scenario, args) for scenario in scenarios(args))
            finally:
                server.stop()
        if args.reference:
            reference: Server | None = None
            if args.reference == "start":
                reference = start_reference(args, workdir, server_cpu)
                base_url = reference.base_url
                assert reference.process is not None
                pids = [reference.process.pid]
            else:
                base_url = args.reference.rstrip("/")
                pid = listening_pid(urlsplit(base_url).port or 80)
                pids = [pid] if pid else []
            where = "PostgreSQL" if args.reference_database_url else "SQLite"
            target = Target(f"2.20 reference, {where}", base_url, api_counter(base_url), pids)
            try:
                rows.extend(measure(target, scenario, args) for scenario in scenarios(args))
            finally:
                if reference is not None:
                    reference.stop()
    finally:
        if cluster is not None:
            cluster.stop()
    load = os.getloadavg()[0]
    print(
        f"\n### Event ingest at one core (make bench-ingest), {args.seconds:.0f} s per scenario, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average {load:.1f}\n"
    )
    print_table(rows)
    short = [row for row in rows if row.stored is not None and row.stored < row.produced.accepted]
    for row in short:
        print(f"\nFAILED: {row.target} | {row.scenario}: {row.stored} stored of {row.produced.accepted} accepted")
    if not short:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if short else 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["produce"]:
        producer = argparse.ArgumentParser(prog="python -m bench.ingest produce")
        producer.add_argument("--url", required=True)
        producer.add_argument("--name", required=True)
        producer.add_argument("--mode", choices=("post", "socket"), required=True)
        producer.add_argument("--batch", type=int, default=1)
        producer.add_argument("--connections", type=int, default=1)
        producer.add_argument("--seconds", type=float, default=8.0)
        producer.add_argument("--rate", type=int, default=0, help="events/s (POST; 0: as fast as answered)")
        producer.add_argument("--match-name", default="", help="the name of every --match-every-th event")
        producer.add_argument("--match-every", type=int, default=0)
        return produce(producer.parse_args(arguments[1:]))
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=8.0, help="per scenario")
    parser.add_argument("--post-connections", type=int, default=4)
    parser.add_argument("--ws-connections", default="1,8", help="websocket scenarios: connections, comma-separated")
    parser.add_argument("--port", type=int, default=4281)
    parser.add_argument("--reference", default="", help="'start' (the 2.20 venv) or a running 2.20 server's API URL")
    parser.add_argument("--reference-port", type=int, default=4324)
    parser.add_argument("--reference-database-url", default="", help="PostgreSQL URL for a started reference")
    parser.add_argument("--server-cpu", default="0", help="CPU for the server and PostgreSQL")
    parser.add_argument("--load-cpu", default="1", help="CPU for the producer")
    parser.add_argument("--no-pin", action="store_true", help="no taskset")
    return run(parser.parse_args(arguments))


if __name__ == "__main__":
    sys.exit(main())
