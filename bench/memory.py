"""Does the server's memory stay flat under a long load? (``make bench-memory``)

    .venv/bin/python -m bench.memory [--minutes 10] [--runs 5000] [--concurrency 8]

Starts ``manage.py orion_start`` as documented (granian and the background services) on
a throwaway PostgreSQL seeded by ``bench.seed``, then cycles through every ``bench.load``
scenario (``--slice`` seconds each) for ``--minutes``, sampling the resident set size
(``VmRSS``) of each of the server's processes every ``--every`` seconds. The first sample
is taken after one warm-up pass of every scenario, so start-up allocations and caches
filled on first use are not counted as growth. Prints the samples and a start/end table
per process, and writes it into ``docs/performance.md`` (section "Memory over a long run").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bench import load, report
from bench.compare import PY, ROOT, Cluster, Server, log


def process_tree(root: int) -> dict[int, str]:
    """``pid → command line`` of ``root`` and its descendants (Linux ``/proc``)."""
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                parent[int(name)] = int(Path(f"/proc/{name}/stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree = {root}
    for _ in range(6):
        tree |= {pid for pid, ppid in parent.items() if ppid in tree}
    names = {}
    for pid in tree:
        try:
            names[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
    return names


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def label(command: str) -> str:
    if "orion_services" in command:
        return "background services"
    if "granian" in command:
        return "granian"
    if "orion_start" in command:
        return "orion_start (supervisor)"
    return command[:40]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=5_000, help="flow runs seeded")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--slice", type=float, default=20.0, help="seconds per scenario in the cycle")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument("--port", type=int, default=4421)
    parser.add_argument("--docs", default="docs/performance.md", help="file to update ('' = none)")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 120 or not 1 <= args.concurrency <= 64 or not 1 <= args.runs <= 200_000:
        parser.error("--minutes 0..120, --concurrency 1..64, --runs 1..200000")
    workdir = Path(tempfile.mkdtemp(prefix="orion-bench-memory-"))
    cluster = Cluster(workdir / "pg.env")
    server: Server | None = None
    try:
        cluster.start(None)
        env = {**os.environ, "DATABASE_URL": cluster.url("orion"), "ORION_LOG_LEVEL": "WARNING",
               "DJANGO_SECRET_KEY": "bench-" + "x" * 50}  # fmt: skip
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
        log(f"seeding {args.runs:,} runs")
        subprocess.run([PY, "-m", "bench.seed", "--runs", str(args.runs)], env=env, cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        command = [PY, "manage.py", "orion_start", "--host", "127.0.0.1", "--port", str(args.port)]
        server = Server("orion_start", args.port, "orion", command, env)
        server.start(None, workdir)
        assert server.process is not None
        target = load.parse_target(server.base_url)
        setup = load.Client(*target, timeout=60)
        fixtures = load.load_fixtures(setup, "etl", ["prod", "etl"])
        setup.close()
        scenarios = load.workloads(None)
        stop = threading.Event()
        passes = [0]
        errors = [0]
        first_errors: dict[str, str] = {}

        def drive() -> None:
            while not stop.is_set():
                for name, work in scenarios:
                    if stop.is_set():
                        return
                    result = load.run_workload(
                        name, work, target=target, fixtures=fixtures, concurrency=args.concurrency,
                        seconds=args.slice, warmup=0, timeout=30, max_requests=1_000_000, seed=passes[0],
                    )  # fmt: skip
                    errors[0] += result.errors
                    if result.first_error and name not in first_errors:
                        first_errors[name] = result.first_error
                        log(f"{name}: first error: {result.first_error[:300]}")
                load.delete_created(target, fixtures, args.concurrency, 30)
                passes[0] += 1

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        log(f"warm-up: one pass of the {len(scenarios)} scenarios ({len(scenarios) * args.slice:.0f} s)")
        while passes[0] == 0 and driver.is_alive():
            time.sleep(1)
        samples: list[tuple[float, dict[int, tuple[str, int]]]] = []
        began = time.monotonic()
        deadline = began + args.minutes * 60
        while True:
            tree = process_tree(server.process.pid)
            sample = {pid: (label(cmd), rss) for pid, cmd in tree.items() if (rss := rss_kib(pid)) is not None}
            samples.append((time.monotonic() - began, sample))
            total = sum(rss for _, rss in sample.values())
            log(f"t={samples[-1][0]:6.0f} s  RSS {total / 1024:7.1f} MiB over {len(sample)} processes")
            if time.monotonic() >= deadline:
                break
            time.sleep(min(args.every, max(0.0, deadline - time.monotonic())))
        stop.set()
        driver.join(timeout=args.slice + 60)
        text = summary(args, samples, passes[0], errors[0])
        print(text)
        if args.docs:
            report.update_section(ROOT / args.docs, report.MEMORY_TITLE, text)
        return 0
    finally:
        if server is not None:
            server.stop()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def summary(args: argparse.Namespace, samples: list[tuple[float, dict[int, tuple[str, int]]]], passes: int,
            errors: int) -> str:  # fmt: skip
    first, last = samples[0][1], samples[-1][1]
    lines = [
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC at commit {report.commit()}.",
        f"- Machine: {report.machine()}.",
        f"- `manage.py orion_start` (its defaults, background services on) on a throwaway PostgreSQL with "
        f"{args.runs:,} seeded runs; every `bench.load` scenario in turn, {args.slice:g} s each, "
        f"{args.concurrency} requests in flight, for {args.minutes:g} minutes after one warm-up pass "
        f"({passes} passes in all, {errors} errors); RSS sampled every {args.every:g} s.",
        "",
        "| process | pid | RSS at start MiB | RSS at end MiB | change |",
        "|---|---:|---:|---:|---:|",
    ]
    for pid in sorted(first, key=lambda p: first[p][0]):
        name, start = first[pid]
        end = last.get(pid, (name, None))[1]
        change = "exited" if end is None else f"{(end - start) / 1024:+.1f} MiB ({(end - start) / start:+.1%})"
        lines.append(
            f"| {name} | {pid} | {start / 1024:.1f} | {'—' if end is None else f'{end / 1024:.1f}'} | {change} |"
        )
    new = [pid for pid in last if pid not in first]
    total_start = sum(rss for _, rss in first.values())
    total_end = sum(rss for _, rss in last.values())
    lines.append(
        f"| **all** | | **{total_start / 1024:.1f}** | **{total_end / 1024:.1f}** "
        f"| **{(total_end - total_start) / 1024:+.1f} MiB ({(total_end - total_start) / total_start:+.1%})** |"
    )
    if new:
        lines.append(f"\n{len(new)} process(es) started during the run (a worker restarted?): {new}.")
    series = ", ".join(f"{t / 60:.1f} min {sum(r for _, r in s.values()) / 1024:.0f}" for t, s in samples)
    lines.append(f"\nTotal RSS (MiB) over time: {series}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
