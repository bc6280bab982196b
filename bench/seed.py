"""Seed the PERFORMANCE.md data set, deterministically and fast.

    .venv/bin/python -m bench.seed --flows 100 --runs 20000 [--database-url URL]

* ``--flows`` flows named ``<kind>-<adjective>-<nnn>`` (kinds etl/ingest/report/train/sync,
  so ``like_: "etl"`` matches a fifth of them), each tagged with an environment and its kind.
* ``--runs`` flow runs whose expected start times are spread uniformly over the 30 days
  before ``--anchor`` (default: now, truncated to the minute). Final state types: 54 %
  COMPLETED, 14 % FAILED, 14 % SCHEDULED, 3 % PENDING, 3 % RUNNING, 6 % CRASHED,
  6 % CANCELLED. Each run gets 1-3 ``FlowRunState`` rows, and its denormalised columns
  (state_type/name/timestamp, expected/next-scheduled/start/end times, total_run_time,
  run_count, ``state`` FK) are computed by replaying those states through the same rules
  as ``runs_app.orchestration.bookkeeping``. Scheduled runs in the past carry the "Late"
  state the late-runs service would have written.
* About 10 % of runs (only runs that started) have 5 task runs with one state row each.
* Run tags: the flow's tags plus, for 30 % of runs, one of a few extra tags.

Determinism: runs are generated in chunks of 5,000, each from its own ``random.Random``
seeded with ``(--seed, chunk)``; ids are drawn from the same generator. Running again
with a larger ``--runs`` only inserts the missing runs, so seeding 20k and then 1M gives
the same rows as seeding 1M at once (up to the anchor, which moves with the clock).

Writes: on PostgreSQL four ``COPY ... FROM STDIN`` per transaction of ``--batch`` runs
(foreign keys stay enforced: they are deferred and checked at each commit), then
``VACUUM (ANALYZE)`` of the seeded tables (``--no-vacuum``: plain ``ANALYZE``). On other
databases Django ``bulk_create`` in the same transactions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CHUNK = 5_000
DAYS = 30
FLOW_KINDS = ("etl", "ingest", "report", "train", "sync")
KIND_TAG = {"etl": "etl", "ingest": "ingest", "report": "reporting", "train": "ml", "sync": "sync"}
ENVIRONMENTS = (("prod", 0.5), ("staging", 0.3), ("dev", 0.2))
EXTRA_TAGS = ("nightly", "hourly", "critical", "team-a", "team-b")
# Final state type of a run and its share (PERFORMANCE.md).
FINAL_STATES = (
    ("COMPLETED", 0.54),
    ("FAILED", 0.14),
    ("SCHEDULED", 0.14),
    ("PENDING", 0.03),
    ("RUNNING", 0.03),
    ("CRASHED", 0.06),
    ("CANCELLED", 0.06),
)
STARTED_SHARE = 0.54 + 0.14 + 0.03 + 0.06  # COMPLETED, FAILED, RUNNING, CRASHED
TASK_RUN_SHARE = 0.10
TASKS_PER_RUN = 5
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})
FLOW_POLICY: dict[str, Any] = {
    "max_retries": 0,
    "retry_delay_seconds": 0,
    "retries": None,
    "retry_delay": None,
    "pause_keys": [],
    "resuming": False,
}
TASK_POLICY: dict[str, Any] = {"max_retries": 0, "retry_delay_seconds": 0, "retries": None, "retry_delay": None}
ZERO = dt.timedelta(0)
FLOW_CREATED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


# ------------------------------------------------------------------------ generation


@dataclass
class State:
    type: str
    name: str
    timestamp: dt.datetime
    scheduled_time: dt.datetime | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass
class Bookkeeping:
    """The denormalised columns ``apply_bookkeeping`` leaves on a run after its states."""

    state_type: str | None = None
    state_name: str | None = None
    state_timestamp: dt.datetime | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    total_run_time: dt.timedelta = ZERO
    expected_start_time: dt.datetime | None = None
    next_scheduled_start_time: dt.datetime | None = None
    run_count: int = 0


def replay(states: Sequence[State]) -> Bookkeeping:
    """Apply ``runs_app.orchestration.bookkeeping`` rules to a sequence of states."""
    run = Bookkeeping()
    initial: State | None = None
    for state in states:
        initial_type = initial.type if initial is not None else None
        run.state_type, run.state_name, run.state_timestamp = state.type, state.name, state.timestamp
        if state.type == "RUNNING" and run.start_time is None:
            run.start_time = state.timestamp
        if initial_type in TERMINAL and state.type not in TERMINAL:
            run.end_time = None
        if state.type in TERMINAL and run.start_time is not None and run.end_time is None:
            run.end_time = state.timestamp
        if initial is not None and initial_type == "RUNNING":
            run.total_run_time += state.timestamp - initial.timestamp
        if run.expected_start_time is None:
            run.expected_start_time = (state.scheduled_time if state.type == "SCHEDULED" else None) or state.timestamp
        if state.type == "SCHEDULED":
            run.next_scheduled_start_time = state.scheduled_time
        elif initial_type == "SCHEDULED":
            run.next_scheduled_start_time = None
        if state.type == "RUNNING":
            run.run_count += 1
        initial = state
    return run


@dataclass(frozen=True)
class FlowSpec:
    id: uuid.UUID
    name: str
    kind: str
    tags: tuple[str, ...]


def flow_specs(count: int, seed: int) -> list[FlowSpec]:
    """The flows, deterministic in ``seed`` (ids may be replaced by existing rows' ids)."""
    from runs_app.names import ADJECTIVES

    rng = random.Random(f"{seed}:flows")
    specs = []
    for index in range(count):
        kind = FLOW_KINDS[index % len(FLOW_KINDS)]
        name = f"{kind}-{rng.choice(ADJECTIVES)}-{index:03d}"
        env = _weighted(rng, ENVIRONMENTS)
        specs.append(FlowSpec(_uuid(rng), name, kind, (env, KIND_TAG[kind])))
    return specs


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _weighted(rng: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    point = rng.random()
    for value, share in choices:
        point -= share
        if point < 0:
            return value
    return choices[-1][0]


@dataclass
class Chunk:
    """Rows of one chunk as Python values, in the column order of ``TABLES``."""

    run_ids: list[uuid.UUID] = field(default_factory=list)
    flow_runs: list[tuple[Any, ...]] = field(default_factory=list)
    flow_run_states: list[tuple[Any, ...]] = field(default_factory=list)
    task_runs: list[tuple[Any, ...]] = field(default_factory=list)
    task_run_states: list[tuple[Any, ...]] = field(default_factory=list)

    def drop_runs(self, existing: set[uuid.UUID]) -> None:
        """Forget the runs already stored (and their states and task runs)."""
        if not existing:
            return
        self.flow_runs = [row for row in self.flow_runs if row[0] not in existing]
        self.flow_run_states = [row for row in self.flow_run_states if row[-1] not in existing]
        kept_tasks = [row for row in self.task_runs if row[-2] not in existing]
        kept_task_ids = {row[0] for row in kept_tasks}
        self.task_runs = kept_tasks
        self.task_run_states = [row for row in self.task_run_states if row[-1] in kept_task_ids]


def _flow_run_states(rng: random.Random, final: str, expected: dt.datetime, anchor: dt.datetime) -> list[State]:
    """A plausible state history ending in ``final``, with the run expected at ``expected``."""
    second = dt.timedelta(seconds=1)

    def duration() -> dt.timedelta:
        return second * (1.0 + min(rng.expovariate(1 / 120.0), 3600.0))

    def created_before() -> dt.datetime:
        return expected - second * rng.uniform(60.0, 86_400.0)

    if final in ("COMPLETED", "FAILED", "CRASHED"):
        if final == "COMPLETED" and rng.random() < 0.12:
            start = expected + second * rng.uniform(0.0, 60.0)
            return [
                State("SCHEDULED", "Scheduled", created_before(), expected, _uuid(rng)),
                State("RUNNING", "Running", start, None, _uuid(rng)),
                State("COMPLETED", "Completed", start + duration(), None, _uuid(rng)),
            ]
        end = expected + duration()
        return [
            State("RUNNING", "Running", expected, None, _uuid(rng)),
            State(final, final.capitalize(), end, None, _uuid(rng)),
        ]
    if final == "SCHEDULED":
        states = [State("SCHEDULED", "Scheduled", created_before(), expected, _uuid(rng))]
        late_at = expected + second * 15
        if late_at < anchor:
            states.append(State("SCHEDULED", "Late", late_at, expected, _uuid(rng)))
        return states
    if final == "PENDING":
        return [State("PENDING", "Pending", expected, None, _uuid(rng))]
    if final == "RUNNING":
        return [
            State("PENDING", "Pending", expected, None, _uuid(rng)),
            State("RUNNING", "Running", expected + second * rng.uniform(1.0, 30.0), None, _uuid(rng)),
        ]
    # CANCELLED before it started
    created = created_before()
    cancelled = created + (expected - created) * rng.random()
    return [
        State("SCHEDULED", "Scheduled", created, expected, _uuid(rng)),
        State("CANCELLED", "Cancelled", cancelled, None, _uuid(rng)),
    ]


def _task_state_type(final: str, position: int, per_run: int) -> str:
    if final == "COMPLETED":
        return "COMPLETED"
    if final in ("FAILED", "CRASHED"):
        return "FAILED" if position == per_run - 1 else "COMPLETED"
    # RUNNING
    return "COMPLETED" if position < 2 else ("RUNNING" if position == 2 else "PENDING")


@dataclass(frozen=True)
class TaskShape:
    """Which runs get task runs and how many: ``share`` of all runs (drawn among the
    started ones) get ``per_run`` each."""

    share: float = TASK_RUN_SHARE
    per_run: int = TASKS_PER_RUN

    @classmethod
    def for_total(cls, runs: int, task_runs: int | None) -> TaskShape:
        """The shape giving about ``task_runs`` task runs over ``runs`` runs (``None``: the
        PERFORMANCE.md default, 10 % of runs with 5 each)."""
        if task_runs is None:
            return cls()
        if runs <= 0 or task_runs <= 0:
            return cls(0.0, TASKS_PER_RUN)
        per_run = max(TASKS_PER_RUN, math.ceil(task_runs / (runs * STARTED_SHARE)))
        return cls(min(STARTED_SHARE, task_runs / (runs * per_run)), per_run)


def generate_chunk(
    chunk: int,
    count: int,
    *,
    seed: int,
    flows: Sequence[FlowSpec],
    anchor: dt.datetime,
    tasks: TaskShape = TaskShape(),
) -> Chunk:
    """The first ``count`` runs of chunk ``chunk`` (a prefix: independent of ``count``)."""
    from runs_app.names import ADJECTIVES, ANIMALS

    rng = random.Random(f"{seed}:runs:{chunk}")
    out = Chunk()
    span = DAYS * 86_400.0
    task_share = tasks.share / STARTED_SHARE
    for _ in range(count):
        run_id = _uuid(rng)
        flow = flows[rng.randrange(len(flows))]
        final = _weighted(rng, FINAL_STATES)
        expected = anchor - dt.timedelta(seconds=rng.random() * span)
        tags = list(flow.tags)
        if rng.random() < 0.3:
            tags.append(EXTRA_TAGS[rng.randrange(len(EXTRA_TAGS))])
        name = f"{ADJECTIVES[rng.randrange(len(ADJECTIVES))]}-{ANIMALS[rng.randrange(len(ANIMALS))]}"
        states = _flow_run_states(rng, final, expected, anchor)
        book = replay(states)
        created, updated = states[0].timestamp, states[-1].timestamp
        run_id_text = str(run_id)
        for state in states:
            details: dict[str, Any] = {"flow_run_id": run_id_text}
            if state.scheduled_time is not None:
                details["scheduled_time"] = state.scheduled_time.isoformat()
            out.flow_run_states.append(
                (state.id, state.timestamp, state.timestamp, state.type, state.name, state.timestamp, details, run_id)
            )
        out.run_ids.append(run_id)
        out.flow_runs.append(
            (
                run_id, created, updated, name, FLOW_POLICY, tags,
                book.state_type, book.state_name, book.state_timestamp, book.run_count,
                book.expected_start_time, book.next_scheduled_start_time, book.start_time, book.end_time,
                book.total_run_time, {"n": rng.randrange(100)}, {}, False, "1.0", flow.id, states[-1].id,
            )
        )  # fmt: skip
        if book.start_time is None or rng.random() >= task_share:
            continue
        finished = book.end_time or (book.start_time + dt.timedelta(seconds=60))
        step = (finished - book.start_time) / tasks.per_run
        for position in range(tasks.per_run):
            task_id, state_id = _uuid(rng), _uuid(rng)
            state_type = _task_state_type(final, position, tasks.per_run)
            at = book.start_time + step * (position + 0.5)
            task_book = replay([State(state_type, state_type.capitalize(), at, None, state_id)])
            out.task_runs.append(
                (
                    task_id, at, at, f"{flow.kind}-task-{position}-0", TASK_POLICY, tags,
                    task_book.state_type, task_book.state_name, task_book.state_timestamp, task_book.run_count,
                    task_book.expected_start_time, task_book.start_time, task_book.end_time,
                    task_book.total_run_time, f"{flow.kind}-task-{position}", "0", {}, 1, run_id, state_id,
                )
            )  # fmt: skip
            details = {"flow_run_id": run_id_text, "task_run_id": str(task_id)}
            out.task_run_states.append((state_id, at, at, state_type, state_type.capitalize(), at, details, task_id))
    return out


# --------------------------------------------------------------------------- writing

FLOW_RUN_COLUMNS = (
    "id", "created", "updated", "name", "empirical_policy", "tags",
    "state_type", "state_name", "state_timestamp", "run_count",
    "expected_start_time", "next_scheduled_start_time", "start_time", "end_time",
    "total_run_time", "parameters", "context", "auto_scheduled", "flow_version", "flow_id", "state_id",
)  # fmt: skip
STATE_COLUMNS = ("id", "created", "updated", "type", "name", "timestamp", "state_details")
TASK_RUN_COLUMNS = (
    "id", "created", "updated", "name", "empirical_policy", "tags",
    "state_type", "state_name", "state_timestamp", "run_count",
    "expected_start_time", "start_time", "end_time",
    "total_run_time", "task_key", "dynamic_key", "task_inputs", "flow_run_run_count", "flow_run_id", "state_id",
)  # fmt: skip

# (model label, Chunk attribute, columns)
TABLES = (
    ("runs_app.FlowRun", "flow_runs", FLOW_RUN_COLUMNS),
    ("runs_app.FlowRunState", "flow_run_states", (*STATE_COLUMNS, "flow_run_id")),
    ("runs_app.TaskRun", "task_runs", TASK_RUN_COLUMNS),
    ("runs_app.TaskRunState", "task_run_states", (*STATE_COLUMNS, "task_run_id")),
)


def _copy_text(value: Any) -> str:
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
        return _copy_text(json.dumps(value, separators=(",", ":")))
    return str(value)


def _copy_rows(rows: Iterable[tuple[Any, ...]]) -> str:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join([_copy_text(value) for value in row]))
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
                        copy.write(_copy_rows(rows[start : start + 2_000]))


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
    cluster's). The rows are consistent by construction, as in our own tables.
    """
    import psycopg

    specs = flow_specs(flows, seed_value)
    counts = dict.fromkeys(("flow_runs", "flow_run_states", "task_runs", "task_run_states"), 0)
    with psycopg.connect(dsn) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            with cursor.copy("COPY flow (id, created, updated, name, tags) FROM STDIN") as copy:
                rows = [(spec.id, FLOW_CREATED, FLOW_CREATED, spec.name, list(spec.tags)) for spec in specs]
                copy.write(_copy_rows(rows))
            connection.commit()
            pending: list[Chunk] = []
            for chunk_index in range((runs + CHUNK - 1) // CHUNK):
                size = min(CHUNK, runs - chunk_index * CHUNK)
                pending.append(
                    generate_chunk(chunk_index, size, seed=seed_value, flows=specs, anchor=anchor, tasks=tasks)
                )
                if sum(len(chunk.flow_runs) for chunk in pending) >= batch or chunk_index == (runs - 1) // CHUNK:
                    for label, attr, columns in TABLES:
                        table = REFERENCE_TABLES[label]
                        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                            for chunk in pending:
                                copy.write(_copy_rows(getattr(chunk, attr)))
                                counts[attr] += len(getattr(chunk, attr))
                    connection.commit()
                    pending = []
        connection.autocommit = True
        connection.execute("VACUUM (ANALYZE) flow, flow_run, flow_run_state, task_run, task_run_state")
    return counts


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


# ---------------------------------------------------------------------------- driver


def ensure_flows(specs: Sequence[FlowSpec]) -> list[FlowSpec]:
    """Create the missing flows; return the specs with the stored rows' ids."""
    from django.db import transaction

    from flows_app.models import Flow

    existing = dict(Flow.objects.filter(name__in=[spec.name for spec in specs]).values_list("name", "id"))
    missing = [
        Flow(id=spec.id, name=spec.name, tags=list(spec.tags), created=FLOW_CREATED, updated=FLOW_CREATED)
        for spec in specs
        if spec.name not in existing
    ]
    with transaction.atomic():
        Flow.objects.bulk_create(missing)
    return [FlowSpec(existing.get(spec.name, spec.id), spec.name, spec.kind, spec.tags) for spec in specs]


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
    tasks: TaskShape = TaskShape(),
    progress: Callable[[int, int, dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Insert the missing runs of the data set; ``progress(done, runs, counts)`` after
    each chunk of 5,000 runs generated (``log`` gets a line per transaction instead)."""
    from django.db import connection, transaction

    started = time.monotonic()
    specs = ensure_flows(flow_specs(flows, seed_value))
    postgres = connection.vendor == "postgresql"
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
        chunk = generate_chunk(chunk_index, size, seed=seed_value, flows=specs, anchor=anchor, tasks=tasks)
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
            progress(done, runs, counts)
    flush()
    if progress is not None:
        progress(runs, runs, counts)
    if postgres:
        from django.apps import apps

        labels = ("flows_app.Flow", *(label for label, _, _ in TABLES))
        tables = ", ".join(apps.get_model(label)._meta.db_table for label in labels)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {tables}" if vacuum else f"ANALYZE {tables}")
    log(f"seeded in {time.monotonic() - started:.1f} s: " + ", ".join(f"{k} +{v:,}" for k, v in counts.items()))
    return counts


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
    args = parser.parse_args(argv)
    if args.flows < 1 or args.runs < 0 or args.batch < 1:
        parser.error("--flows must be ≥ 1, --runs ≥ 0, --batch ≥ 1")
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
        tasks=TaskShape.for_total(args.runs, args.task_runs),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
