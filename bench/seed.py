"""Seed the PERFORMANCE.md data set (``runs_app.seeding``, as ``manage.py orion_seed``
does), or the same rows into a reference server's database (``seed_reference``).

    .venv/bin/python -m bench.seed --flows 100 --runs 20000 [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from typing import Any

from runs_app.seeding.generate import (
    CHUNK,
    DEFAULT_WORKSPACE_ID,
    FLOW_CREATED,
    TABLES,
    WORKSPACE_COLUMN,
    Chunk,
    SeedWorkspace,
    TaskShape,
    flow_specs,
    generate_chunk,
)
from runs_app.seeding.write import copy_rows, seed, seed_workspaces

# The reference server (Prefect 2.7.12) on PostgreSQL names the same columns the same way.
REFERENCE_TABLES = {
    "runs_app.FlowRun": "flow_run",
    "runs_app.FlowRunState": "flow_run_state",
    "runs_app.TaskRun": "task_run",
    "runs_app.TaskRunState": "task_run_state",
}


def seed_reference(
    dsn: str,
    *,
    flows: int,
    runs: int,
    seed_value: int,
    anchor: dt.datetime,
    tasks: TaskShape = TaskShape(),
    batch: int = 50_000,
) -> dict[str, int]:
    """The same rows into an empty reference (Prefect 2.7.12) database, by ``COPY``.

    Its schema has the columns this one has under other table names; its run → state
    foreign keys are not deferrable, so the triggers that check them are off while the
    rows go in (``session_replication_role``), which needs a superuser (the throwaway
    cluster's). The rows are consistent by construction, as in our own tables: those of
    the workspace ``default``, without the workspace column the reference has not.
    """
    import psycopg

    specs = flow_specs(flows, seed_value)
    workspaces = [SeedWorkspace(DEFAULT_WORKSPACE_ID, specs)]
    counts = dict.fromkeys(("flow_runs", "flow_run_states", "task_runs", "task_run_states"), 0)
    with psycopg.connect(dsn) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            with cursor.copy("COPY flow (id, created, updated, name, tags) FROM STDIN") as copy:
                rows = [(spec.id, FLOW_CREATED, FLOW_CREATED, spec.name, list(spec.tags)) for spec in specs]
                copy.write(copy_rows(rows))
            connection.commit()
            pending: list[Chunk] = []
            for chunk_index in range((runs + CHUNK - 1) // CHUNK):
                size = min(CHUNK, runs - chunk_index * CHUNK)
                pending.append(
                    generate_chunk(
                        chunk_index, size, seed=seed_value, workspaces=workspaces, anchor=anchor, tasks=tasks
                    )
                )
                if sum(len(chunk.flow_runs) for chunk in pending) >= batch or chunk_index == (runs - 1) // CHUNK:
                    for label, attr, columns in TABLES:
                        table = REFERENCE_TABLES[label]
                        names = _without_workspace(columns)
                        with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                            for chunk in pending:
                                copy.write(copy_rows(_without_workspace(row) for row in getattr(chunk, attr)))
                                counts[attr] += len(getattr(chunk, attr))
                    connection.commit()
                    pending = []
        connection.autocommit = True
        connection.execute("VACUUM (ANALYZE) flow, flow_run, flow_run_state, task_run, task_run_state")
    return counts


def _without_workspace(row: Sequence[Any]) -> tuple[Any, ...]:
    """A row (or the column names) of ``TABLES`` as the reference stores it: no workspace."""
    return (*row[:WORKSPACE_COLUMN], *row[WORKSPACE_COLUMN + 1 :])


# ---------------------------------------------------------------------------- driver


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20_000, help="total flow runs wanted (tops up)")
    parser.add_argument(
        "--task-runs", type=int, help="about this many task runs in all (default: 10 %% of runs get 5 each)"
    )
    parser.add_argument("--seed", type=int, default=20230208, help="random seed (default %(default)s)")
    parser.add_argument("--anchor", help="ISO time the 30 days end at (default: now, to the minute)")
    parser.add_argument("--batch", type=int, default=50_000, help="runs per transaction")
    parser.add_argument("--database-url", help="sets DATABASE_URL (default: the environment's, or SQLite)")
    parser.add_argument("--no-vacuum", action="store_true", help="PostgreSQL: ANALYZE only, no VACUUM")
    parser.add_argument(
        "--workspaces", type=int, default=0, help="spread the runs over ws-1 ... ws-N (default: all in default)"
    )
    args = parser.parse_args(argv)
    if args.flows < 1 or args.runs < 0 or args.batch < 1 or args.workspaces < 0:
        parser.error("--flows must be ≥ 1, --runs ≥ 0, --batch ≥ 1, --workspaces ≥ 0")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orion_project.settings")
    import django

    django.setup()
    from django.db import connection

    if args.anchor:
        anchor = dt.datetime.fromisoformat(args.anchor.replace("Z", "+00:00"))
        anchor = anchor if anchor.tzinfo else anchor.replace(tzinfo=dt.UTC)
    else:
        anchor = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    where = connection.settings_dict["NAME"]
    print(f"seeding {connection.vendor} {where}: {args.flows} flows, {args.runs:,} runs, anchor {anchor.isoformat()}")
    seed(
        flows=args.flows,
        runs=args.runs,
        seed_value=args.seed,
        anchor=anchor,
        batch=args.batch,
        vacuum=not args.no_vacuum,
        log=lambda line: print(line, flush=True),
        workspace_ids=seed_workspaces(args.workspaces),
        tasks=TaskShape.for_total(args.runs, args.task_runs),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
