"""This server alone (``make bench``) or side by side with Prefect 2.7.12 (``make bench-compare``).

    .venv/bin/python -m bench.compare [--reference] [--baseline REV] [--seconds 8] [--rounds 2] [--runs 20000]

One throwaway PostgreSQL cluster (``scripts/pg_throwaway.sh``: ``jit = off``, no fsync)
holds one database per server. Both are seeded with the same rows from the same generator
(``bench.seed``: ``--runs`` flow runs, about 10,000 task runs at 20,000), by ``COPY`` into
each server's own schema. Background services are off on both sides
(``orion_start --no-services``; the reference's ``PREFECT_ORION_SERVICES_*_ENABLED=false``),
analytics off, server log level WARNING. The PostgreSQL postmaster (so every backend) and
each server are pinned to CPU ``--server-cpu`` with ``taskset``; the load generator
(``bench.load``, one process per measurement) to ``--load-cpu``.

Every scenario is measured ``--rounds`` times per server, alternating A B A B, so that
a disturbance of the shared machine hits both sides alike; the rounds' requests are
pooled (rate = requests / seconds, p50 and p99 over every latency). Before the load each
server's answers are checked against its database (``check_answers``), and during the load
``bench.load`` counts a wrong answer as an error. The table gives each side's rate,
p50, p99, errors and server CPU ms per request, the rate ratio per scenario and the
geometric mean of the ratios; it is printed and written into ``docs/performance.md``
(the section this target owns; other sections are left as they are).

``--baseline REV`` adds this server as it was at the git revision ``REV`` (checked out
into a temporary worktree, migrated and seeded by its own code into its own database)
as one more server in the same A B (C) rounds, and a second table: this tree against
that revision, the "before and after" of a change measured in one run.

Bounded: ``--seconds`` (+ ``--warmup``) per measurement, 10 scenarios, 2 servers,
``--rounds``; with the defaults about 12 minutes including set-up.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import report
from tests.compat.run import client_python

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
REFERENCE_VERSION = "2.7.12"
SCENARIOS = (
    "read one run",
    "recent runs page",
    "nested filter",
    "count by state",
    "30-day history",
    "task runs of a run",
    "create a run",
    "run lifecycle",
    "task run lifecycle",
    "bulk log write",
)
REFERENCE_SERVICES = (
    "SCHEDULER",
    "LATE_RUNS",
    "FLOW_RUN_NOTIFICATIONS",
    "CANCELLATION_CLEANUP",
    "PAUSE_EXPIRATIONS",
    "TELEMETRY",
)


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- pieces


@dataclass
class Cluster:
    """The throwaway PostgreSQL cluster (one database per server)."""

    state_file: Path
    port: int = 0
    postmaster: int = 0
    version: str = ""

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, cpu: str | None) -> None:
        env = {**os.environ, "PG_THROWAWAY_STATE": str(self.state_file)}
        subprocess.run([str(ROOT / "scripts" / "pg_throwaway.sh"), "start"], env=env, check=True, capture_output=True)
        values = dict(line.split("=", 1) for line in self.state_file.read_text().splitlines() if "=" in line)
        self.port = int(values["PG_PORT"])
        self.postmaster = int((Path(values["PG_DIR"]) / "data" / "postmaster.pid").read_text().split()[0])
        if cpu is not None:  # backends forked from now on inherit the postmaster's affinity
            pin(self.postmaster, cpu)
        self.version = self.sql("postgres", "SHOW server_version")

    def stop(self) -> None:
        env = {**os.environ, "PG_THROWAWAY_STATE": str(self.state_file)}
        subprocess.run([str(ROOT / "scripts" / "pg_throwaway.sh"), "stop"], env=env, check=False)

    def sql(self, database: str, statement: str) -> Any:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            cursor = connection.execute(statement)
            row = cursor.fetchone() if cursor.description else None
        return None if row is None else row[0]


def pin(pid: int, cpu: str) -> None:
    """Pin every thread of ``pid`` to ``cpu`` (processes it starts later inherit it)."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], check=True, capture_output=True)


def pinned(command: list[str], cpu: str | None) -> list[str]:
    return command if cpu is None or not shutil.which("taskset") else ["taskset", "-c", cpu, *command]


def reference_python(explicit: str | None) -> Path:
    """The reference's venv: ``--reference-venv``, else the compatibility suite's 2.7 client
    venv (made once from the repository's pins; the client package carries the server)."""
    if explicit:
        return Path(explicit) / "bin" / "python"
    return client_python("2.7")


@dataclass
class Server:
    """One server under test: how to start it, and its process once started."""

    name: str
    port: int
    database: str
    command: list[str]
    env: dict[str, str]
    version: str = ""
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    root: Path = ROOT
    # The API measured: ``/api`` (the workspace ``default``) or ``/api/workspaces/<slug>``.
    api_path: str = "/api"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.api_path}"

    def start(self, cpu: str | None, workdir: Path, timeout: float = 180.0) -> None:
        self.log_path = workdir / f"{self.name}.log"
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                pinned(self.command, cpu),
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited at start-up; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{self.name} did not answer /api/health within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def ours(
    url: str,
    port: int,
    workers: int | None = None,
    threads: int | None = None,
    root: Path = ROOT,
    name: str = "orion-on-django",
) -> Server:
    """This server as documented (``orion_start --no-services``) against the database at
    ``url``, migrated first (a no-op on a current schema); ``root``: the checkout it runs
    from (another revision's worktree for ``--baseline``)."""
    env = {**os.environ, "DATABASE_URL": url, "ORION_LOG_LEVEL": "WARNING"}
    env.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 50)
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=root, check=True)
    command = [PY, "manage.py", "orion_start", "--no-services", "--host", "127.0.0.1", "--port", str(port)]
    if workers:
        command += ["--workers", str(workers)]
    if threads:
        command += ["--threads", str(threads)]
    import django

    database = url.rsplit("/", 1)[-1]
    version = f"Django {django.get_version()}" if root == ROOT else f"revision {_short_revision(root)}"
    return Server(name, port, database, command, env, version=version, root=root)


def _short_revision(root: Path) -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    return done.stdout.strip()


def baseline(
    cluster: Cluster, revision: str, port: int, workdir: Path, args: argparse.Namespace, anchor: dt.datetime
) -> Server:
    """This server at ``revision``: a detached worktree, its own database migrated and
    seeded by that revision's own ``bench.seed`` (the same generator and seed)."""
    tree = workdir / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), revision], cwd=ROOT, check=True)
    cluster.sql("postgres", "CREATE DATABASE baseline")
    url = cluster.url("baseline")
    server = ours(url, port, args.workers, args.threads, root=tree, name=f"before ({revision})")
    subprocess.run(
        [PY, "-m", "bench.seed", "--runs", str(args.runs), "--anchor", anchor.isoformat()],
        env={**server.env, "DATABASE_URL": url}, cwd=tree, check=True, capture_output=True,
    )  # fmt: skip
    return server


def remove_baseline(workdir: Path) -> None:
    tree = workdir / "baseline"
    if tree.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def reference(cluster: Cluster, port: int, python: Path, workdir: Path) -> Server:
    cluster.sql("postgres", "CREATE DATABASE reference")
    home = workdir / "prefect-home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{python.parent}:{os.environ.get('PATH', '')}",  # `prefect orion start` runs `uvicorn`
        "PREFECT_HOME": str(home),
        "PREFECT_ORION_DATABASE_CONNECTION_URL": cluster.url("reference").replace(
            "postgresql://", "postgresql+asyncpg://"
        ),
        "PREFECT_ORION_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_SERVER_LEVEL": "WARNING",
        "PREFECT_ORION_UI_ENABLED": "false",
        **{f"PREFECT_ORION_SERVICES_{name}_ENABLED": "false" for name in REFERENCE_SERVICES},
    }
    command = [str(python.parent / "prefect"), "orion", "start", "--host", "127.0.0.1", "--port", str(port)]
    return Server(f"prefect-{REFERENCE_VERSION}", port, "reference", command, env, version=REFERENCE_VERSION)


# ------------------------------------------------------------------------ answers


def check_answers(server: Server, cluster: Cluster) -> list[str]:
    """Compare the scenarios' answers with what the server's database holds; the problems."""
    from bench.load import COUNT_BODY, Client, history_body

    prefix = "" if server.database == "reference" else "runs_app_"
    flow_runs, task_runs = f"{prefix}flowrun" if prefix else "flow_run", f"{prefix}taskrun" if prefix else "task_run"

    def db(statement: str) -> Any:
        return cluster.sql(server.database, statement)

    client = Client("127.0.0.1", server.port, "/api", timeout=60)
    problems: list[str] = []
    try:
        expected = db(f"SELECT count(*) FROM {flow_runs} WHERE state_type = 'COMPLETED'")
        answer = client.json("POST", "/flow_runs/count", COUNT_BODY)
        if answer != expected:
            problems.append(f"count by state: {answer}, database {expected}")
        rows = client.json("POST", "/flow_runs/filter", {"sort": "EXPECTED_START_TIME_DESC", "limit": 50})
        newest = db(
            f"SELECT string_agg(id::text, ',' ORDER BY expected_start_time DESC) FROM "
            f"(SELECT id, expected_start_time FROM {flow_runs} ORDER BY expected_start_time DESC NULLS LAST LIMIT 50) t"
        )
        if [row["id"] for row in rows] != newest.split(","):
            problems.append("recent runs page: not the database's 50 newest")
        one = rows[7]["id"]
        read = client.json("GET", f"/flow_runs/{one}")
        if read["id"] != one or read["state_type"] != db(f"SELECT state_type FROM {flow_runs} WHERE id = '{one}'"):
            problems.append("read one run: another run or another state")
        body = history_body()
        intervals = client.json("POST", "/flow_runs/history", body)
        total = sum(state["count_runs"] for interval in intervals for state in interval["states"])
        in_window = db(
            f"SELECT count(*) FROM {flow_runs} WHERE expected_start_time >= '{body['history_start']}' "
            f"AND expected_start_time < '{intervals[-1]['interval_end'] if intervals else body['history_end']}'"
        )
        if total != in_window:
            problems.append(f"30-day history: {total} runs, database {in_window}")
        run_id = db(f"SELECT flow_run_id FROM {task_runs} ORDER BY id LIMIT 1")
        tasks = client.json("POST", "/task_runs/filter", {"flow_runs": {"id": {"any_": [str(run_id)]}}})
        expected_tasks = db(f"SELECT count(*) FROM {task_runs} WHERE flow_run_id = '{run_id}'")
        if len(tasks) != expected_tasks:
            problems.append(f"task runs of a run: {len(tasks)}, database {expected_tasks}")
    finally:
        client.close()
    return problems


def nested_ids(server: Server) -> list[str]:
    """The nested filter's answer (ids), to compare the servers with each other."""
    from bench.load import Client, Fixtures, nested_filter_body

    client = Client("127.0.0.1", server.port, "/api", timeout=60)
    try:
        fx = Fixtures(run_ids=[], runs_with_tasks=[], flow_ids=[], like="etl", tags=["prod", "etl"])
        body = nested_filter_body(fx, "EXPECTED_START_TIME_DESC")
        return [row["id"] for row in client.json("POST", "/flow_runs/filter", body)]
    finally:
        client.close()


# ----------------------------------------------------------------------------- load


@dataclass
class Pooled:
    """One scenario on one server, over every round."""

    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    first_error: str | None = None

    def add(self, row: dict[str, Any]) -> None:
        self.requests += row["requests"]
        self.seconds += row["seconds"]
        self.errors += row["errors"]
        self.latencies.extend(row.get("latencies", []))
        if row.get("server_cpu_ms_per_request") is not None:
            self.cpu_ms.append(row["server_cpu_ms_per_request"])
        self.first_error = self.first_error or row.get("first_error")

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))] * 1000

    @property
    def cpu(self) -> float | None:
        return sum(self.cpu_ms) / len(self.cpu_ms) if self.cpu_ms else None


def measure(server: Server, cluster: Cluster, scenario: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out = workdir / "load.json"
    assert server.process is not None
    command = [
        PY, "-m", "bench.load", "--base-url", server.base_url, "--only", scenario,
        "--seconds", str(args.seconds), "--warmup", str(args.warmup), "--concurrency", str(args.concurrency),
        "--json", str(out), "--latencies", "--server-pids", f"{server.process.pid},{cluster.postmaster}",
        "--server-database", server.database,
    ]  # fmt: skip
    done = subprocess.run(pinned(command, args.load_cpu), cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench.load failed on {server.name}: {done.stderr[-2000:]}")
    return json.loads(out.read_text())[0]


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="orion-bench-"))
    cluster = Cluster(workdir / "pg.env")
    servers: list[Server] = []
    server_cpu = None if args.no_pin else args.server_cpu
    anchor = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    try:
        log(f"PostgreSQL cluster (throwaway, jit=off), postmaster pinned to CPU {server_cpu}")
        cluster.start(server_cpu)
        env = {**os.environ, "DATABASE_URL": cluster.url("orion")}
        a = ours(cluster.url("orion"), args.port, args.workers, args.threads)
        servers.append(a)
        log(f"seeding {a.name}: {args.runs:,} runs")
        subprocess.run(
            [PY, "-m", "bench.seed", "--runs", str(args.runs), "--anchor", anchor.isoformat()],
            env=env, cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        if args.reference:
            from bench.seed import seed_reference
            from runs_app.seeding.generate import TaskShape

            b = reference(cluster, args.reference_port, reference_python(args.reference_venv), workdir)
            servers.append(b)
            log(f"starting {b.name} (creates its schema), then seeding it identically")
            b.start(server_cpu, workdir)
            seed_reference(
                cluster.url("reference"), flows=100, runs=args.runs, seed_value=20230208, anchor=anchor,
                tasks=TaskShape.for_total(args.runs, None),
            )  # fmt: skip
        if args.baseline:
            log(f"preparing this server at {args.baseline} (worktree, migrations, seed)")
            servers.append(baseline(cluster, args.baseline, args.baseline_port, workdir, args, anchor))
        for server in servers:
            if server.process is None:
                server.start(server_cpu, workdir)
        problems = []
        for server in servers:
            problems += [f"{server.name}: {problem}" for problem in check_answers(server, cluster)]
        if len(servers) > 1 and any(nested_ids(servers[0]) != nested_ids(other) for other in servers[1:]):
            problems.append("nested filter: the servers answer different runs")
        for problem in problems:
            log(f"WRONG ANSWER {problem}")
        scenarios = [name for name in SCENARIOS if not args.only or name in args.only.split(",")]
        pooled = {(server.name, name): Pooled() for server in servers for name in scenarios}
        for name in scenarios:
            for round_index in range(args.rounds):
                for server in servers:  # A B A B
                    row = measure(server, cluster, name, args, workdir)
                    pooled[(server.name, name)].add(row)
                    log(f"{name:<20} round {round_index + 1} {server.name:<18} {row['rate']:8.1f}/s "
                        f"p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}")  # fmt: skip
        table = report.comparison_table(servers[:2], scenarios, pooled) if args.reference else None
        if args.baseline:
            before = report.comparison_table([servers[0], servers[-1]], scenarios, pooled, other="before")
            table = (table + "\n" if table else "") + before
        alone = report.alone_table(servers[0], scenarios, pooled)
        settings = report.settings_text(args, cluster, servers, anchor, problems)
        print(settings)
        print(table or alone)
        if args.docs:
            title = report.COMPARE_TITLE if args.reference else report.ALONE_TITLE
            report.update_section(ROOT / args.docs, title, settings + "\n" + (table or alone))
            log(f"wrote the section '{title}' of {args.docs}")
        errors = sum(p.errors for p in pooled.values())
        return 1 if problems or errors else 0
    finally:
        for server in servers:
            server.stop()
        remove_baseline(workdir)
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", action="store_true", help=f"side by side with Prefect {REFERENCE_VERSION}")
    parser.add_argument("--reference-venv", help="a venv with prefect 2.7.12 (default: .compat-venvs/prefect-2.7, "
                        "made from tests/compat/requirements-2.7.txt)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=20_000, help="flow runs seeded (task runs: 10 %% × 5)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per scenario, server, round")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds per scenario")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", help="comma-separated scenarios (default: all)")
    parser.add_argument("--port", type=int, default=4420, help="this server's port")
    parser.add_argument("--reference-port", type=int, default=4425)
    parser.add_argument("--baseline", help="also this server at a git revision (before/after in one run)")
    parser.add_argument("--baseline-port", type=int, default=4430)
    parser.add_argument("--workers", type=int, help="orion_start --workers (default: its own)")
    parser.add_argument("--threads", type=int, help="orion_start --threads (default: its own)")
    parser.add_argument("--server-cpu", default="0", help="CPU for the servers and PostgreSQL")
    parser.add_argument("--load-cpu", default="1", help="CPU for the load generator")
    parser.add_argument("--no-pin", action="store_true", help="no taskset")
    parser.add_argument("--docs", default="docs/performance.md", help="file to update ('' = none)")
    args = parser.parse_args(argv)
    if args.only:
        unknown = set(args.only.split(",")) - set(SCENARIOS)
        if unknown:
            parser.error(f"unknown scenarios {sorted(unknown)}; known: {list(SCENARIOS)}")
    if not 1 <= args.rounds <= 10 or not 0 < args.seconds <= 120 or not 1 <= args.runs <= 200_000:
        parser.error("--rounds 1..10, --seconds 0..120, --runs 1..200000")
    if args.no_pin:
        args.load_cpu = None
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orion_project.settings")
    _ = platform  # machine details are read in bench.report
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
