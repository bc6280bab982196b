"""The flow-run history rollup: what each run adds to ``FlowRunHistoryBucket``.

A run contributes to four bucket rows of its workspace, state type and state name, each
with one run, its run time, when it entered RUNNING (if it is RUNNING), its lateness if
it started, its expected start if it has not started and is not finished:

* its flow's row of its hour of expected start;
* its workspace's all-flows row of that hour (``flow_id`` = :data:`ALL_FLOWS`): an
  unfiltered 30-day history adds up a few thousand rows per workspace however many flows
  there are;
* its workspace's all-flows row of its minute of expected start (``flow_id`` =
  :data:`ALL_FLOWS_BY_MINUTE`, ``bucket`` = the minute): a history interval bound cuts
  an hour, and of the cut hour only the part of the cut minute is read from the runs,
  however many runs an hour holds;
* its workspace's all-hours row (``flow_id`` = :data:`ALL_HOURS`, ``bucket`` =
  :data:`ALL_HOURS_BUCKET`): the workspace's runs per state, what ``/api/metrics``
  reports, in one row per state however long the history is.

Every row belongs to one workspace (``workspace_id`` leads the key), so no read of one
workspace's history sums another's runs.

Three writers keep it, each in the transaction of the write it follows:

* a state write moves the run's contribution from its old state's rows to its new
  state's (``flow_run_history_statement``, one upsert, which the orchestration engine
  puts into the state write's own statement on PostgreSQL);
* the one delete path (``runs_app.services.purge``) takes deleted runs away, set-based per batch
  (``flow_runs_history_forget``: one upsert for the batch, then the emptied rows go);
* bulk loads that bypass orchestration add theirs (``flow_runs_history_add``).

Every state write of a workspace updates its all-hours rows, so an upsert takes its
rows' locks in one order (sorted by key): two writes moving runs between the same two
states in opposite directions wait for each other instead of deadlocking.

``flow_run_history_rebuild`` recomputes the table from the runs (the migration's backfill).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection

from runs_app.models import FlowRun, FlowRunHistoryBucket
from runs_app.states import TERMINAL_STATE_TYPES, StateType

BUCKET = dt.timedelta(hours=1)
ALL_FLOWS = uuid.UUID(int=0)
# The flow id and hour of a workspace's all-hours rows: neither is a flow's (flows have
# random UUIDs) nor an hour a run is bucketed under by the readers (they read ALL_FLOWS
# or a flow's rows).
ALL_HOURS = uuid.UUID(int=1)
ALL_HOURS_BUCKET = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# The flow id of a workspace's all-flows rows per minute of expected start.
ALL_FLOWS_BY_MINUTE = uuid.UUID(int=2)
MINUTE = dt.timedelta(minutes=1)
# The flow ids of a workspace's sums over every flow: no flow a client may ask for.
WORKSPACE_SUMS = (ALL_FLOWS, ALL_HOURS, ALL_FLOWS_BY_MINUTE)
KEY_FIELDS = ("workspace_id", "flow_id", "bucket", "state_type", "state_name")
SUM_FIELDS = (
    "count_runs",
    "run_time_sum",
    "running_since_sum",
    "started_lateness_sum",
    "unstarted_count",
    "unstarted_expected_sum",
)
# The run columns a contribution depends on.
RUN_FIELDS = (
    "workspace_id",
    "flow_id",
    "state_type",
    "state_name",
    "state_timestamp",
    "expected_start_time",
    "start_time",
    "total_run_time",
)

Key = tuple[Any, ...]
Sums = tuple[float, ...]


def bucket_of(moment: dt.datetime) -> dt.datetime:
    """The start of the hour ``moment`` is in (UTC)."""
    moment = moment.astimezone(dt.UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def minute_of(moment: dt.datetime) -> dt.datetime:
    """The start of the minute ``moment`` is in (UTC)."""
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


def contribution(run: Mapping[str, Any]) -> tuple[Key, Sums] | None:
    """The run's key (workspace, flow, minute of expected start, state type and name)
    and the sums one run adds; ``None`` for a run without a state or an expected start
    (history ignores those). :func:`_add` makes the bucket rows' keys of it."""
    expected = run["expected_start_time"]
    if expected is None or run["state_type"] is None:
        return None
    key = (run["workspace_id"], run["flow_id"], minute_of(expected), run["state_type"], run["state_name"] or "")
    running = run["state_type"] == StateType.RUNNING and run["state_timestamp"] is not None
    started = run["start_time"] is not None
    unstarted = not started and run["state_type"] not in TERMINAL_STATE_TYPES
    total = run["total_run_time"]
    sums = (
        1.0,
        total.total_seconds() if total is not None else 0.0,
        run["state_timestamp"].timestamp() if running else 0.0,
        max((run["start_time"] - expected).total_seconds(), 0.0) if started else 0.0,
        1.0 if unstarted else 0.0,
        expected.timestamp() if unstarted else 0.0,
    )
    return key, sums


def run_values(run: FlowRun) -> dict[str, Any]:
    """The columns of ``run`` its contribution depends on (its workspace among them)."""
    return {name: getattr(run, name) for name in RUN_FIELDS}


def _add(deltas: dict[Key, list[float]], item: tuple[Key, Sums] | None, sign: float) -> None:
    """Add ``item`` (times ``sign``) to its flow's row of its hour and to its workspace's
    all-flows rows of its hour and of its minute, and all-hours row."""
    if item is None:
        return
    (workspace_id, flow_id, minute, *state), sums = item
    hour = bucket_of(minute)
    for row_key in (
        (workspace_id, flow_id, hour, *state),
        (workspace_id, ALL_FLOWS, hour, *state),
        (workspace_id, ALL_FLOWS_BY_MINUTE, minute, *state),
        (workspace_id, ALL_HOURS, ALL_HOURS_BUCKET, *state),
    ):
        row = deltas.setdefault(row_key, [0.0] * len(SUM_FIELDS))
        for index, value in enumerate(sums):
            row[index] += sign * value


UPSERT_ROWS = 1_000  # rows per statement: 10,000 parameters, under every database's limit


def _upsert(deltas: Mapping[Key, list[float]], key_fields: tuple[str, ...] = KEY_FIELDS) -> None:
    """Add ``deltas`` to the bucket rows, creating rows as needed: one statement for up
    to ``UPSERT_ROWS`` rows (a state write changes eight at most)."""
    rows = _changed_rows(deltas)
    for start in range(0, len(rows), UPSERT_ROWS):
        sql, params = _upsert_statement(rows[start : start + UPSERT_ROWS], key_fields)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _changed_rows(deltas: Mapping[Key, list[float]]) -> list[tuple[Key, list[float]]]:
    """The rows ``deltas`` changes, in key order: two writes that move runs in opposite
    directions lock their rows in the same order and wait for each other, not deadlock."""
    return sorted(((key, sums) for key, sums in deltas.items() if any(sums)), key=_lock_order)


def _lock_order(row: tuple[Key, list[float]]) -> tuple[str, ...]:
    """One total order of keys whatever types their parts come in (a UUID or its text)."""
    return tuple(str(part) for part in row[0])


def _upsert_statement(rows: list[tuple[Key, list[float]]], key_fields: tuple[str, ...]) -> tuple[str, list[Any]]:
    """The upsert adding ``rows`` to the bucket rows and its parameters."""
    params: list[Any] = []
    for key, sums in rows:
        *workspace, flow_id, bucket, state_type, state_name = key
        params += [
            *workspace,
            _uuid_param(flow_id),
            connection.ops.adapt_datetimefield_value(bucket),
            str(state_type),
            state_name,
            round(sums[0]),
            sums[1],
            sums[2],
            sums[3],
            round(sums[4]),
            sums[5],
        ]  # fmt: skip
    return _upsert_sql(len(rows), key_fields), params


@functools.lru_cache(maxsize=64)
def _upsert_sql(row_count: int, key_fields: tuple[str, ...]) -> str:
    """The upsert's text for ``row_count`` rows (the same on both databases)."""
    table = FlowRunHistoryBucket._meta.db_table
    columns = (*key_fields, *SUM_FIELDS)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in SUM_FIELDS)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([placeholders] * row_count)} "
        f"ON CONFLICT ({', '.join(key_fields)}) DO UPDATE SET {updates}"
    )


def _uuid_param(value: Any) -> Any:
    """UUIDs as the column stores them: native on PostgreSQL, 32 hex digits on SQLite."""
    value = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    return value if connection.vendor == "postgresql" else value.hex


def flow_run_history_statement(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, list[Any]] | None:
    """The upsert (SQL and parameters) that moves a run's contribution from its values
    ``before`` a state write to ``after``; ``None`` when the contribution did not change.
    The caller runs it with its state write (the orchestration engine: on PostgreSQL as
    a ``WITH`` item of the write's own statement)."""
    deltas: dict[Key, list[float]] = {}
    _add(deltas, contribution(before), -1.0)
    _add(deltas, contribution(after), 1.0)
    rows = _changed_rows(deltas)
    return _upsert_statement(rows, KEY_FIELDS) if rows else None


def flow_runs_history_forget(runs: Iterable[Mapping[str, Any]]) -> None:
    """Take away the contributions of runs about to be deleted: one upsert for all of
    them, then the rows left with no run in the cells they touched are deleted (a deleted
    flow leaves none)."""
    deltas: dict[Key, list[float]] = {}
    for run in runs:
        _add(deltas, contribution(run), -1.0)
    if not deltas:
        return
    if connection.vendor != "postgresql":
        _upsert(deltas)
        for workspace_id in {key[0] for key in deltas}:
            keys = [key for key in deltas if key[0] == workspace_id]
            FlowRunHistoryBucket.objects.filter(
                workspace_id=workspace_id,
                flow_id__in={key[1] for key in keys},
                bucket__in={key[2] for key in keys},
                count_runs__lte=0,
            ).delete()
        return
    # PostgreSQL: the rows as one array per column, so a retention batch's thousands of
    # rows are one short statement (not 11 placeholders a row) of one text, whatever
    # their number; ``ORDER BY n`` keeps the lock order of ``_changed_rows``.
    table = FlowRunHistoryBucket._meta.db_table
    rows = _changed_rows(deltas)
    columns = [list(column) for column in zip(*((*key, *sums) for key, sums in rows), strict=True)]
    for index in (5, 9):  # the counts
        columns[index] = [round(value) for value in columns[index]]
    cells = sorted({key[:3] for key, _ in rows}, key=lambda cell: tuple(str(part) for part in cell))
    with connection.cursor() as cursor:
        cursor.execute(_UNNEST_UPSERT, columns)
        cursor.execute(
            f"DELETE FROM {table} AS b USING unnest(%s::int[], %s::uuid[], %s::timestamptz[]) AS c (ws, flow, hour) "
            "WHERE b.workspace_id = c.ws AND b.flow_id = c.flow AND b.bucket = c.hour AND b.count_runs <= 0",
            [list(column) for column in zip(*cells, strict=True)],
        )


_UNNEST_UPSERT = (
    f"INSERT INTO {FlowRunHistoryBucket._meta.db_table} ({', '.join((*KEY_FIELDS, *SUM_FIELDS))}) "
    f"SELECT {', '.join((*KEY_FIELDS, *SUM_FIELDS))} FROM unnest("
    "%s::int[], %s::uuid[], %s::timestamptz[], %s::text[], %s::text[], "
    "%s::bigint[], %s::float8[], %s::float8[], %s::float8[], %s::bigint[], %s::float8[]) "
    f"WITH ORDINALITY AS u ({', '.join((*KEY_FIELDS, *SUM_FIELDS))}, n) ORDER BY n "
    f"ON CONFLICT ({', '.join(KEY_FIELDS)}) DO UPDATE SET "
    + ", ".join(f"{name} = {FlowRunHistoryBucket._meta.db_table}.{name} + excluded.{name}" for name in SUM_FIELDS)
)


def flow_runs_history_add(runs: Iterable[Mapping[str, Any]]) -> None:
    """Add the contributions of runs inserted in bulk, without orchestration (one upsert)."""
    deltas: dict[Key, list[float]] = {}
    for run in runs:
        _add(deltas, contribution(run), 1.0)
    _upsert(deltas)


def flow_runs_history_add_minutes(runs: Any, batch: int = 20_000) -> None:
    """Add the all-flows rows per minute of the runs of the queryset ``runs`` (a
    migration's, whose ``FlowRun`` is its historical model), without their other rows."""
    deltas: dict[Key, list[float]] = {}
    for run in runs.filter(expected_start_time__isnull=False).values(*RUN_FIELDS).iterator(chunk_size=batch):
        _add(deltas, contribution(run), 1.0)
    _upsert({key: sums for key, sums in deltas.items() if key[1] == ALL_FLOWS_BY_MINUTE})


def flow_run_history_rebuild(*, run_model: Any = FlowRun, batch: int = 20_000) -> int:
    """Recompute every bucket row from the flow runs; the number of rows written.

    ``run_model``: a migration passes its historical ``FlowRun``. One from before
    workspaces has no ``workspace_id`` (nor has the table then): its rows are keyed
    without it, and the migration that adds the column gives them all to ``default``."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FlowRunHistoryBucket._meta.db_table}")
    keyed = any(field.attname == "workspace_id" for field in run_model._meta.concrete_fields)
    fields = RUN_FIELDS if keyed else RUN_FIELDS[1:]
    deltas: dict[Key, list[float]] = {}
    rows = run_model.objects.filter(expected_start_time__isnull=False).values(*fields)
    for run in rows.iterator(chunk_size=batch):
        _add(deltas, contribution({"workspace_id": None, **run}), 1.0)
    if not keyed:
        deltas = {key[1:]: sums for key, sums in deltas.items()}
    _upsert(deltas, KEY_FIELDS if keyed else KEY_FIELDS[1:])
    return len(deltas)
