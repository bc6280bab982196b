"""The read budgets at scale, through HTTP (``make bench-scale``): issue #23's table, as a
curve of cost against size.

    .venv/bin/python -m bench.scale --database-url postgresql://.../orion_1m \
        --database-url postgresql://.../orion_3m --database-url postgresql://.../orion [--concurrency 1,8]

Runs against databases already holding the big data sets (``manage.py orion_seed --runs
10000000 --task-runs 1000000 --production`` into a kept cluster: ``PG_KEEP_DIR=...
PG_SHARED_BUFFERS=2GB scripts/pg_throwaway.sh start``; about 2 minutes per million runs on
2 idle cores, see ``docs/performance.md``); this target never seeds. For each
``--database-url`` (one per size, smallest first) it starts ``orion_start --no-services`` as
documented, pins it and the PostgreSQL postmaster (so every backend) to ``--server-cpu``
and the load generator to ``--load-cpu``, and runs the scenarios the budgets name at each
``--concurrency``: 1 in flight gives the latency of one request, more in flight the latency
under load (on one core a request then also waits for the others). ``bench.load`` checks
every answer (a wrong one is an error). One table per size and one curve table (scenario x
size) are printed and written into ``docs/performance.md``.

``--workspace SLUG`` measures one workspace's API (``/api/workspaces/SLUG``) of a data
set spread over several (``orion_seed --workspaces 10``): the budgets hold per workspace.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import report
from bench.compare import ROOT, Cluster, Pooled, log, measure, ours, pin

# Issue #23's budgets: p50 in ms with one request in flight, and with 8 in flight.
COUNT_AND_READ = (20, 80)
HISTORY = (50, 200)
NESTED = (50, 200)
PAGE = (150, 600)
BUDGETS = {
    "read one run": COUNT_AND_READ,
    "recent runs page": COUNT_AND_READ,
    "count by state": COUNT_AND_READ,
    "task runs of a run": COUNT_AND_READ,
    "30-day history": HISTORY,
    "history off the hour": HISTORY,
    "nested filter": NESTED,
    "nested filter by name": NESTED,
    "dashboard page": PAGE,
    "flow runs page": PAGE,
    "flow page": PAGE,
    "flow run page": PAGE,
    # Not in the table: Prometheus scrapes it every 15 s or so, not a user.
    "metrics scrape": (50, 200),
}
SCENARIOS = tuple(BUDGETS)
BUDGETS_MS = {name: alone for name, (alone, _) in BUDGETS.items()}
LOADED_BUDGETS_MS = {name: loaded for name, (_, loaded) in BUDGETS.items()}
# The "in flight" of its second column; a run with other concurrencies is judged
# against the loaded budget too (fewer in flight is the easier case).
LOADED = 8
TITLE = "The read budgets at 1M, 3M and 10M runs through HTTP (make bench-scale)"


def budget_ms(name: str, concurrency: int) -> int:
    return LOADED_BUDGETS_MS[name] if concurrency > 1 else BUDGETS_MS[name]


def size_label(runs: int) -> str:
    """``1,000,000`` -> ``1M``, ``2,500,000`` -> ``2.5M``, ``20,000`` -> ``20k``."""
    if runs >= 1_000_000:
        return f"{runs / 1_000_000:.3g}M"
    return f"{runs / 1_000:.3g}k" if runs >= 1_000 else str(runs)


@dataclass
class Size:
    """One database measured: its size and each (scenario, in flight)'s pooled figures."""

    label: str
    runs: int
    task_runs: int
    version: str = ""
    database_bytes: int = 0
    results: dict[tuple[str, int], Pooled] = field(default_factory=dict)


def database_cluster(url: str, workspace: str | None = None) -> tuple[Cluster, Size]:
    """The running cluster behind ``url`` (its port and postmaster pid, from its data
    directory), and the database's size: how many flow runs (of ``workspace``, if given)
    and (estimated) task runs it holds, and its bytes on disk."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        data_directory = connection.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
        version = connection.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        settings = {
            name: connection.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("shared_buffers", "jit")
        }
        if workspace is None:
            counted = connection.execute("SELECT count(*) FROM runs_app_flowrun")
        else:
            counted = connection.execute(
                "SELECT count(*) FROM runs_app_flowrun WHERE workspace_id = "
                "(SELECT id FROM orion_project_workspace WHERE slug = %s)",
                [workspace],
            )
        runs = int(counted.fetchone()[0])  # type: ignore[index]
        tasks = connection.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'runs_app_taskrun'")
        task_runs = int(tasks.fetchone()[0])  # type: ignore[index]
        database_bytes = connection.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
    cluster = Cluster(Path(os.devnull))
    cluster.port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    cluster.postmaster = int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    cluster.version = f"{version} (shared_buffers {settings['shared_buffers']}, jit {settings['jit']})"
    size = Size(size_label(runs), runs, task_runs, version=cluster.version, database_bytes=int(database_bytes))
    return cluster, size


def measure_size(url: str, args: argparse.Namespace, port: int) -> tuple[Size, bool]:
    """Every scenario at every concurrency against the database at ``url``, one server
    started for it; whether any answer was wrong."""
    workdir = Path(tempfile.mkdtemp(prefix="orion-scale-"))
    cluster, size = database_cluster(url, args.workspace)
    log(f"{url.rsplit('/', 1)[-1]}: {size.runs:,} flow runs, {size.database_bytes / 2**30:.1f} GiB")
    server = ours(url, port, root=Path(args.tree).resolve() if args.tree else ROOT)
    if args.workspace:
        server.api_path = f"/api/workspaces/{args.workspace}"
    server_cpu = None if args.no_pin else args.server_cpu
    if server_cpu is not None:
        pin(cluster.postmaster, server_cpu)
    failed = False
    try:
        server.start(server_cpu, workdir)
        for concurrency in concurrencies(args):
            for name in scenarios(args):
                pooled = Pooled()
                options = argparse.Namespace(**{**vars(args), "concurrency": concurrency})
                pooled.add(measure(server, cluster, name, options, workdir))
                size.results[(name, concurrency)] = pooled
                failed |= pooled.errors > 0
                p50, p99 = pooled.percentile(0.5), pooled.percentile(0.99)
                log(f"{size.label} {name:<22} x{concurrency}: {pooled.rate:7.1f}/s p50 {p50 or 0:7.1f} ms "
                    f"p99 {p99 or 0:7.1f} ms CPU {report.cpu_text(pooled.cpu)} ms errors {pooled.errors}")  # fmt: skip
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return size, failed


def concurrencies(args: argparse.Namespace) -> list[int]:
    return [int(value) for value in args.concurrency.split(",")]


def scenarios(args: argparse.Namespace) -> list[str]:
    return [name for name in SCENARIOS if not args.only or name in args.only.split(",")]


def size_table(size: Size, args: argparse.Namespace) -> str:
    """One database's figures: a line per scenario and concurrency."""
    rows = []
    for concurrency in concurrencies(args):
        for name in scenarios(args):
            pooled = size.results[(name, concurrency)]
            p50, p99 = pooled.percentile(0.5), pooled.percentile(0.99)
            budget = budget_ms(name, concurrency)
            within = p50 is not None and p50 < budget
            rows.append(
                f"| {name} | {concurrency} | {pooled.rate:.1f} | {p50 or 0:.1f} | {p99 or 0:.1f} | "
                f"{report.cpu_text(pooled.cpu)} | {pooled.errors} | {budget} ({'met' if within else 'NOT met'}) |"
            )
    return "\n".join(
        [
            "| scenario | in flight | req/s | p50 ms | p99 ms | server+PG CPU ms/req | errors | p50 budget ms |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
            *rows,
        ]
    )


def curve_table(sizes: Sequence[Size], args: argparse.Namespace) -> str:
    """Scenario x size: p50 at each concurrency (a miss in bold) and the server + PostgreSQL
    CPU per request, which is what to compare on a shared machine."""
    levels = concurrencies(args)
    flight = " / ".join(str(level) for level in levels)
    header = ["scenario", f"p50 budget ms ({flight} in flight)"]
    for size in sizes:
        header += [f"{size.label}: p50 ms", f"{size.label}: CPU ms/req"]
    rows = []
    for name in scenarios(args):
        cells = [name, " / ".join(str(budget_ms(name, level)) for level in levels)]
        for size in sizes:
            p50s, cpus = [], []
            for level in levels:
                pooled = size.results[(name, level)]
                p50 = pooled.percentile(0.5)
                text = "—" if p50 is None else f"{p50:.1f}"
                p50s.append(text if p50 is not None and p50 < budget_ms(name, level) else f"**{text}**")
                cpus.append(report.cpu_text(pooled.cpu))
            cells += [" / ".join(p50s), " / ".join(cpus)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(["| " + " | ".join(header) + " |", "|---|---|" + "---:|---:|" * len(sizes), *rows])


def run(args: argparse.Namespace) -> int:
    sizes: list[Size] = []
    failed = False
    for index, url in enumerate(args.database_url):
        size, wrong = measure_size(url, args, args.port + index)
        sizes.append(size)
        failed |= wrong
    server_cpu = None if args.no_pin else args.server_cpu
    databases = "; ".join(
        f"{size.label}: {size.runs:,} flow runs"
        + (f" in the measured workspace {args.workspace}" if args.workspace else "")
        + f", about {size.task_runs:,} task runs, {size.database_bytes / 2**30:.1f} GiB"
        for size in sizes
    )
    settings = "\n".join(
        [
            f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC at commit {report.commit()}.",
            f"- Machine: {report.machine()}.",
            f"- PostgreSQL {sizes[0].version}; {databases}.",
            f"- `orion_start --no-services` (its defaults) and the PostgreSQL postmaster on CPU {server_cpu}, "
            f"`bench.load` on CPU {args.load_cpu}; {args.seconds:g} s measured after {args.warmup:g} s warm-up "
            "per line; every answer checked. Bold: p50 over its budget.",
        ]
    )
    sections = [settings, curve_table(sizes, args)]
    sections += [f"{size.label} ({size.runs:,} flow runs):\n\n{size_table(size, args)}" for size in sizes]
    text = "\n\n".join(sections)
    print(text)
    if args.docs:
        report.update_section(ROOT / args.docs, TITLE, text)
        log(f"wrote the section '{TITLE}' of {args.docs}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        action="append",
        help="a seeded database; repeat it, smallest first, for the curve (default: DATABASE_URL)",
    )
    parser.add_argument("--concurrency", default=f"1,{LOADED}", help="comma-separated requests in flight")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--only", help="comma-separated scenarios (default: all)")
    parser.add_argument("--port", type=int, default=4281, help="the first size's server port (then +1, +2, ...)")
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--load-cpu", default="1")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--docs", default="docs/performance.md", help="file to update ('' = none)")
    parser.add_argument("--workspace", help="measure this workspace's API, /api/workspaces/SLUG (default: /api)")
    parser.add_argument("--tree", help="run the server from this checkout (another revision's worktree: the before)")
    args = parser.parse_args(argv)
    args.database_url = args.database_url or ([os.environ["DATABASE_URL"]] if os.environ.get("DATABASE_URL") else [])
    if not args.database_url or not all(url.startswith("postgresql") for url in args.database_url):
        parser.error("--database-url (or DATABASE_URL) must name the seeded PostgreSQL database(s)")
    unknown = set(args.only.split(",")) - set(SCENARIOS) if args.only else set()
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
