"""Tables and the sections of ``docs/performance.md`` the bench targets write.

Each target owns one ``## `` section, found by its title and replaced whole; every other
section (``## Serving`` among them, written by hand) is kept as it is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ALONE_TITLE = "This server alone (make bench)"
COMPARE_TITLE = "Side by side with Prefect 2.7.12 (make bench-compare)"
MEMORY_TITLE = "Memory over a long run (make bench-memory)"
HEADER = """# Performance

Sections below are written by the bench targets (`make bench`, `make bench-compare`,
`make bench-memory`; see `bench/`), each with the machine, versions and settings it ran
with. Throughput on a shared machine is noisy: compare only figures from one run (the
side-by-side table alternates the servers for that reason); server CPU ms per request
does not depend on what else runs.
"""


def update_section(path: Path, title: str, body: str) -> None:
    """Replace (or append) the ``## title`` section of ``path``, keeping the others."""
    text = path.read_text() if path.exists() else HEADER
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"## {title}"), None)
    section = [f"## {title}", "", *body.rstrip().splitlines(), ""]
    if start is None:
        lines = [*lines, "", *section] if lines and lines[-1].strip() else [*lines, *section]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines = [*lines[:start], *section, *lines[end:]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = ""
    with contextlib.suppress(OSError):
        load = f", load average {os.getloadavg()[0]:.1f} at the end"
    return f"{model}, {os.cpu_count()} CPUs{memory}, {platform.system()} {platform.release()}{load}"


def commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return done.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def settings_text(args: Any, cluster: Any, servers: Sequence[Any], anchor: dt.datetime, problems: list[str]) -> str:
    pin = (
        "not pinned" if args.no_pin else f"servers and PostgreSQL on CPU {args.server_cpu}, load on CPU {args.load_cpu}"
    )
    lines = [
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC at commit {commit()}.",
        f"- Machine: {machine()}.",
        f"- Python {platform.python_version()}, PostgreSQL {cluster.version} (throwaway cluster, jit=off, fsync=off), "
        + ", ".join(f"{server.name} ({server.version})" for server in servers)
        + ".",
        f"- Data: {args.runs:,} flow runs (about {args.runs // 2:,} task runs at the default shape) seeded identically "
        f"by `bench.seed` into each server's schema, expected start times over the 30 days before {anchor:%H:%M} UTC.",
        f"- Settings: {pin}; {args.concurrency} requests in flight; {args.seconds:g} s measured (+{args.warmup:g} s "
        f"warm-up) per scenario, server and round; {args.rounds} rounds alternating the servers; background "
        "services off, analytics off, server log level WARNING; this server: `manage.py orion_start --no-services`"
        + (f" --workers {args.workers}" if args.workers else "")
        + (f" --threads {args.threads}" if args.threads else "")
        + ("; the reference: `prefect orion start` (uvicorn, its defaults)" if args.reference else "")
        + ".",
        "- Answers checked against each database before the load: "
        + ("all right." if not problems else "**wrong: " + "; ".join(problems) + "**"),
        "",
    ]
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def cpu_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def alone_table(server: Any, scenarios: Sequence[str], pooled: dict[tuple[str, str], Any]) -> str:
    rows = [
        "| scenario | req/s | p50 ms | p99 ms | errors | requests | server CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in scenarios:
        p = pooled[(server.name, name)]
        rows.append(
            f"| {name} | {p.rate:.1f} | {_ms(p.percentile(0.5))} | {_ms(p.percentile(0.99))} | {p.errors} "
            f"| {p.requests} | {cpu_text(p.cpu)} |"
        )
    return (
        "\n".join(rows)
        + "\n\nLifecycles count whole lifecycles (4 requests, 3 for a task run); a log write is 100 lines.\n"
    )


def comparison_table(
    servers: Sequence[Any], scenarios: Sequence[str], pooled: dict[tuple[str, str], Any], other: str = "ref"
) -> str:
    """This server (``servers[0]``) against another (the reference, or this server at
    another revision: ``other`` names it in the headings)."""
    a, b = servers
    rows = [
        f"| scenario | ratio (req/s) | this req/s | {other} req/s | this p50 / p99 ms | {other} p50 / p99 ms "
        f"| this / {other} CPU ms/req | errors (this / {other}) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = []
    for name in scenarios:
        pa, pb = pooled[(a.name, name)], pooled[(b.name, name)]
        ratio = pa.rate / pb.rate if pb.rate and pa.rate else None
        if ratio is not None:
            ratios.append(ratio)
        rows.append(
            f"| {name} | {'—' if ratio is None else f'{ratio:.2f}'} | {pa.rate:.1f} | {pb.rate:.1f} "
            f"| {_ms(pa.percentile(0.5))} / {_ms(pa.percentile(0.99))} "
            f"| {_ms(pb.percentile(0.5))} / {_ms(pb.percentile(0.99))} "
            f"| {cpu_text(pa.cpu)} / {cpu_text(pb.cpu)} | {pa.errors} / {pb.errors} |"
        )
    mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else None
    rows.append(f"| **geometric mean** | **{'—' if mean is None else f'{mean:.2f}'}** | | | | | | |")
    return (
        "\n".join(rows)
        + f"\n\nratio = this server's requests per second / {b.name}'s, both at one core, measured in the "
        "same run. A wrong answer is an error, not a request. Lifecycles count whole lifecycles.\n"
    )
