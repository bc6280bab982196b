"""``manage.py orion_seed``: a large, realistic data set by bulk inserts.

    manage.py orion_seed --runs 10000000 --workspaces 10 --task-runs 1000000

The data set of ``runs_app.seeding``: the same flows, shares of final states, tags and
expected start times over the 30 days before ``--anchor``, run columns that are their
states replayed through the bookkeeping rules (``--production``: shaped like a busy
server's). Runs already stored are skipped, so running it again with a larger ``--runs``
tops the data set up (``--runs`` is the runs wanted in all).

On PostgreSQL PostgreSQL generates the rows itself (``runs_app.seeding.sql``: millions of
runs, a large seed rebuilding indexes, constraints and the rollup after the rows);
``--python-rows`` gives the Python generator's rows instead, by ``COPY``, those
``bench.seed`` gives the reference server. Other databases take the Python rows by
``bulk_create``. A progress bar on stderr shows each phase's rate and time left.

The rows go to the workspace ``default``; ``--workspaces N`` spreads them evenly over the
workspaces ``ws-1`` ... ``ws-N`` instead (created if missing), each with its own copies
of the flows.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from runs_app.seeding.generate import TaskShape
from runs_app.seeding.write import seed, seed_workspaces


def parse_anchor(value: str | None) -> dt.datetime:
    """``--anchor`` as an aware datetime; default: now, to the minute."""
    if not value:
        return dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    try:
        anchor = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"--anchor: not an ISO date-time: {value!r}") from None
    return anchor if anchor.tzinfo else anchor.replace(tzinfo=dt.UTC)


class ProgressBar:
    """One line per phase (rows, index builds, rollup, ANALYZE) redrawn in place on a
    terminal, with its rate and the time left; a line per tenth of a phase otherwise."""

    def __init__(self, out: OutputWrapper, width: int = 30) -> None:
        self.out, self.width = out, width
        self.tty = out.isatty()
        self.phase = ""
        self.started = time.monotonic()
        self.last_tenth = -1

    def __call__(self, phase: str, done: int, total: int, unit: str) -> None:
        if phase != self.phase:
            self.phase, self.started, self.last_tenth = phase, time.monotonic(), -1
        share = done / total if total else 1.0
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        filled = int(share * self.width)
        line = (
            f"{phase:<8} [{'#' * filled}{'.' * (self.width - filled)}] {share:6.1%}  {done:,}/{total:,} {unit}  "
            f"{rate:,.0f} {unit}/s  {elapsed:,.0f} s, ~{eta:,.0f} s left"
        )
        if self.tty:
            self.out.write("\r" + line, ending="\n" if done >= total else "")
            self.out.flush()
        elif int(share * 10) > self.last_tenth:
            self.last_tenth = int(share * 10)
            self.out.write(line)
            self.out.flush()


class Command(BaseCommand):
    help = "Seed flows, flow runs, task runs and their states by bulk inserts (the benchmark data set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--runs", type=int, default=20_000, help="flow runs wanted in all (tops up)")
        parser.add_argument("--task-runs", type=int, help="about this many task runs (default: 10 %% of runs × 5)")
        parser.add_argument("--flows", type=int, default=100)
        parser.add_argument("--seed", type=int, default=20230208, help="random seed")
        parser.add_argument("--anchor", help="ISO time the 30 days of runs end at (default: now)")
        parser.add_argument("--batch", type=int, default=50_000, help="runs per transaction")
        parser.add_argument("--no-vacuum", action="store_true", help="PostgreSQL: ANALYZE only, no VACUUM")
        parser.add_argument(
            "--jobs", type=int, default=2, help="PostgreSQL: connections inserting at once in a large seed"
        )
        parser.add_argument(
            "--python-rows",
            action="store_true",
            help="PostgreSQL: the rows of the Python generator (those bench.seed gives the reference), by COPY, "
            "instead of rows generated inside PostgreSQL (runs_app.seeding.sql, the fast path)",
        )
        parser.add_argument(
            "--production",
            action="store_true",
            help="shape the data like a busy server's: similar flow names, bursts sharing a start time, "
            "tags of varied selectivity, long-running and late runs (runs_app.seeding.generate)",
        )
        parser.add_argument(
            "--workspaces",
            type=int,
            default=0,
            help="spread the runs over the workspaces ws-1 ... ws-N, created if missing (default: all in default)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        runs, task_runs = options["runs"], options["task_runs"]
        if options["flows"] < 1 or runs < 0 or options["batch"] < 1 or (task_runs is not None and task_runs < 0):
            raise CommandError("--flows and --batch must be ≥ 1, --runs and --task-runs ≥ 0")
        if options["jobs"] < 1:
            raise CommandError("--jobs must be ≥ 1")
        if options["workspaces"] < 0:
            raise CommandError("--workspaces must be ≥ 0")
        anchor = parse_anchor(options["anchor"])
        shape = TaskShape.for_total(runs, task_runs)
        self.stdout.write(
            f"seeding {runs:,} flow runs ({shape.share:.0%} of them with {shape.per_run} task runs each), "
            f"{options['flows']} flows, anchor {anchor.isoformat()}"
        )
        workspace_ids = seed_workspaces(options["workspaces"])
        counts = seed(
            flows=options["flows"],
            runs=runs,
            seed_value=options["seed"],
            anchor=anchor,
            batch=options["batch"],
            vacuum=not options["no_vacuum"],
            log=lambda line: self.stdout.write(line),
            workspace_ids=workspace_ids,
            tasks=shape,
            progress=ProgressBar(self.stderr),
            production=options["production"],
            in_database=not options["python_rows"],
            jobs=options["jobs"],
        )
        self.stdout.write(", ".join(f"{key} +{value:,}" for key, value in counts.items()))
