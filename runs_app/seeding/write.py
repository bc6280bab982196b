"""Writing the generated data set, topping up what is stored, with the runs' share of the
history rollup. Every row carries its workspace: the flows are created in each workspace
the runs are spread over, and each run, its states and task runs are in its flow's.

Writes: on PostgreSQL four ``COPY ... FROM STDIN`` per transaction of ``--batch`` runs
(foreign keys stay enforced: they are deferred and checked at each commit), then
``VACUUM (ANALYZE)`` of the seeded tables (``--no-vacuum``: plain ``ANALYZE``). On other
databases Django ``bulk_create`` in the same transactions.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from runs_app.seeding.generate import (
    CHUNK,
    FLOW_CREATED,
    FLOW_RUN_COLUMNS,
    TABLES,
    Chunk,
    FlowSpec,
    SeedWorkspace,
    TaskShape,
    flow_specs,
    generate_chunk,
    workspace_flow_id,
)
from runs_app.seeding.sql import Progress, seed_postgres


def copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"{value.total_seconds():.6f} seconds"
    if isinstance(value, (dict, list)):
        return copy_text(json.dumps(value, separators=(",", ":")))
    return str(value)


def copy_rows(rows: Iterable[tuple[Any, ...]]) -> str:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join([copy_text(value) for value in row]))
        buffer.write("\n")
    return buffer.getvalue()


def write_postgres(connection: Any, chunks: Sequence[Chunk]) -> None:
    """COPY the chunks' rows, one COPY per table, in the caller's transaction."""
    from django.apps import apps

    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        for label, attr, columns in TABLES:
            table = apps.get_model(label)._meta.db_table
            with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for chunk in chunks:
                    rows = getattr(chunk, attr)
                    for start in range(0, len(rows), 2_000):
                        copy.write(copy_rows(rows[start : start + 2_000]))


def write_orm(chunks: Sequence[Chunk]) -> None:
    """``bulk_create`` the chunks' rows (SQLite and other databases)."""
    from django.apps import apps

    for label, attr, columns in TABLES:
        model = apps.get_model(label)
        objects = [model(**dict(zip(columns, row, strict=True))) for chunk in chunks for row in getattr(chunk, attr)]
        model.objects.bulk_create(objects, batch_size=2_000)


def add_to_history_rollup(chunks: Sequence[Chunk]) -> None:
    """The inserted runs' share of the flow-run history rollup (the rows bypass the
    orchestration that keeps it), in the caller's transaction."""
    from runs_app.rollup.writes import RUN_FIELDS, flow_runs_history_add

    def runs() -> Iterable[dict[str, Any]]:
        for chunk in chunks:
            for row in chunk.flow_runs:
                values = dict(zip(FLOW_RUN_COLUMNS, row, strict=True))
                yield {name: values.get(name) for name in RUN_FIELDS}

    flow_runs_history_add(runs())


def ensure_flows(specs: Sequence[FlowSpec], *, workspace_id: int) -> list[FlowSpec]:
    """Create the workspace's missing flows; return the specs with the ids of the
    workspace's rows."""
    from django.db import transaction

    from flows_app.models import Flow

    names = [spec.name for spec in specs]
    existing = dict(Flow.objects.filter(workspace_id=workspace_id, name__in=names).values_list("name", "id"))
    specs = [
        FlowSpec(existing.get(spec.name, workspace_flow_id(spec, workspace_id)), spec.name, spec.kind, spec.tags)
        for spec in specs
    ]
    missing = [
        Flow(
            id=spec.id,
            workspace_id=workspace_id,
            name=spec.name,
            tags=list(spec.tags),
            created=FLOW_CREATED,
            updated=FLOW_CREATED,
        )
        for spec in specs
        if spec.name not in existing
    ]
    with transaction.atomic():
        Flow.objects.bulk_create(missing)
    return specs


def seed_workspaces(count: int) -> list[int]:
    """The ids of the workspaces ``ws-1`` ... ``ws-{count}`` (created if missing), or of
    ``default`` for 0: where ``--workspaces`` spreads the runs."""
    from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace

    if not count:
        return [DEFAULT_WORKSPACE_ID]
    return [Workspace.objects.get_or_create(slug=f"ws-{index}")[0].id for index in range(1, count + 1)]


def stored_ids(ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    from runs_app.models import FlowRun

    found: set[uuid.UUID] = set()
    for start in range(0, len(ids), 1_000):
        found.update(FlowRun.objects.filter(pk__in=ids[start : start + 1_000]).values_list("id", flat=True))
    return found


def seed(
    *,
    flows: int,
    runs: int,
    seed_value: int,
    anchor: dt.datetime,
    batch: int,
    vacuum: bool,
    log: Callable[[str], None],
    workspace_ids: Sequence[int],
    tasks: TaskShape = TaskShape(),
    progress: Progress | None = None,
    production: bool = False,
    in_database: bool = False,
    jobs: int = 2,
) -> dict[str, int]:
    """Insert the missing runs of the data set, spread evenly over ``workspace_ids`` (each
    gets its own copies of the flows); ``progress(phase, done, total, unit)`` after each
    chunk of 5,000 runs generated (``log`` gets a line per transaction instead).

    ``in_database`` on PostgreSQL: the rows of :mod:`runs_app.seeding.sql`, generated by
    PostgreSQL itself (another data set of the same shape, for millions of runs)."""
    from django.db import connection, transaction

    started = time.monotonic()
    specs = flow_specs(flows, seed_value, production=production)
    workspaces = [
        SeedWorkspace(workspace_id, ensure_flows(specs, workspace_id=workspace_id)) for workspace_id in workspace_ids
    ]
    postgres = connection.vendor == "postgresql"
    if postgres and in_database:
        counts = seed_postgres(
            runs=runs,
            seed_value=seed_value,
            anchor=anchor,
            workspaces=workspaces,
            tasks=tasks,
            production=production,
            vacuum=vacuum,
            progress=progress or (lambda *_: None),
            jobs=jobs,
        )
        log(f"seeded in {time.monotonic() - started:.1f} s: " + ", ".join(f"{k} +{v:,}" for k, v in counts.items()))
        return counts
    counts = dict.fromkeys(("flow_runs", "flow_run_states", "task_runs", "task_run_states"), 0)
    pending: list[Chunk] = []
    pending_runs = 0
    done = 0

    def flush() -> None:
        nonlocal pending, pending_runs
        if not pending:
            return
        with transaction.atomic():
            if postgres:
                write_postgres(connection, pending)
            else:
                write_orm(pending)
            add_to_history_rollup(pending)
        for chunk in pending:
            for key in counts:
                counts[key] += len(getattr(chunk, key))
        pending, pending_runs = [], 0

    for chunk_index in range((runs + CHUNK - 1) // CHUNK):
        size = min(CHUNK, runs - chunk_index * CHUNK)
        chunk = generate_chunk(
            chunk_index, size, seed=seed_value, workspaces=workspaces, anchor=anchor, tasks=tasks, production=production
        )
        chunk.drop_runs(stored_ids(chunk.run_ids))
        done += size
        if chunk.flow_runs:
            pending.append(chunk)
            pending_runs += len(chunk.flow_runs)
        if pending_runs >= batch:
            flush()
            if progress is None:
                elapsed = time.monotonic() - started
                log(f"  {done:>9,} / {runs:,} runs  inserted {counts['flow_runs']:,}  {elapsed:6.1f} s")
        if progress is not None:
            progress("rows", done, runs, "runs")
    flush()
    if progress is not None:
        progress("rows", runs, runs, "runs")
    if postgres:
        from django.apps import apps

        labels = ("flows_app.Flow", *(label for label, _, _ in TABLES))
        tables = ", ".join(apps.get_model(label)._meta.db_table for label in labels)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {tables}" if vacuum else f"ANALYZE {tables}")
    log(f"seeded in {time.monotonic() - started:.1f} s: " + ", ".join(f"{k} +{v:,}" for k, v in counts.items()))
    return counts
