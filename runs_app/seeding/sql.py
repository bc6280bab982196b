"""The data set generated inside PostgreSQL: ``orion_seed``'s path to millions of runs.

Generating rows in Python and streaming them through ``COPY`` costs about half a
millisecond of Python per run, so ten million runs would take hours whatever the
database does. Here each batch of runs is one ``INSERT ... SELECT`` over
``generate_series`` and PostgreSQL computes every column itself: the random draws are
hashes of (seed, run position, draw number) (``hashint8extended``), the ids ``md5`` of
the seed and position. The shape is :mod:`runs_app.seeding.generate`'s (its constants:
shares of final states, state histories, tags, task runs, the production shape), the
rows are not the Python generator's: the same seed gives the same rows here, and the
Python generator stays the one shared with the reference's seeding (``bench.seed``).

A small seed is one transaction. A large one (:data:`BULK_RUNS` new runs or more) drops
the four tables' secondary indexes, unique and foreign-key constraints first and builds
them again afterwards from their own definitions (one sort per index instead of a random
insert per row and index; one join per foreign key instead of a trigger per row), and
inserts from :data:`JOBS` connections at once, each batch its own transaction. How to
rebuild is written in a comment on the runs table in the transaction that drops them, so
a large seed stopped half-way is finished by the next one (``seed_postgres``).

The flow-run history rollup is then recomputed from the runs by one grouped statement
(:func:`rebuild_history_rollup`), the same sums as ``runs_app.rollup.writes.contribution``.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from runs_app.empirical_policy import FLOW_RUN_POLICY_DEFAULTS, TASK_RUN_POLICY_DEFAULTS
from runs_app.seeding.generate import (
    BURST_SHARE,
    DAYS,
    EXTRA_TAGS,
    FINAL_STATES,
    FLOW_RUN_COLUMNS,
    FUTURE_SCHEDULED_SHARE,
    OFF_BY_A_FRACTION,
    RECENT_RUNNING_SHARE,
    STARTED_SHARE,
    STATE_COLUMNS,
    TAG_SELECTIVITY,
    TASK_RUN_COLUMNS,
    SeedWorkspace,
    TaskShape,
)
from runs_app.states import TERMINAL_STATE_TYPES, StateType

BATCH = 100_000  # runs per statement: the progress bar's step
BULK_RUNS = 200_000  # from this many new runs on, indexes and constraints are rebuilt
JOBS = 2  # connections inserting at once in a bulk seed
SEED_TABLES = ("runs_app.FlowRun", "runs_app.FlowRunState", "runs_app.TaskRun", "runs_app.TaskRunState")

# (phase, done, total, unit)
Progress = Callable[[str, int, int, str], None]


def _u(k: int) -> str:
    """The ``k``-th uniform draw in [0, 1) of the run at position ``p``."""
    return f"pg_temp.seed_u(p, {k})"


def _seconds(expression: str) -> str:
    return f"(interval '1 second' * ({expression}))"


def _final_state() -> str:
    cases, edge = [], 0.0
    for state_type, share in FINAL_STATES[:-1]:
        edge += share
        cases.append(f"WHEN fu < {edge!r} THEN '{state_type}'")
    return f"CASE {' '.join(cases)} ELSE '{FINAL_STATES[-1][0]}' END"


def _production_tags() -> str:
    return " || ".join(
        f"CASE WHEN {_u(40 + index)} < {share!r} THEN '{json.dumps([tag])}'::jsonb ELSE '[]'::jsonb END"
        for index, (tag, share) in enumerate(TAG_SELECTIVITY)
    )


def _runs_sql(production: bool) -> str:
    """The runs of positions ``[%(lo)s, %(hi)s)`` not stored yet, with their (up to three)
    states and bookkeeping columns, as ``_flow_run_states`` and ``replay`` make them."""
    extra_tags = "'[" + ",".join(json.dumps(tag) for tag in EXTRA_TAGS) + "]'::jsonb"
    if production:
        expected = f"""CASE
            WHEN final = 'SCHEDULED' AND {_u(30)} < {FUTURE_SCHEDULED_SHARE!r}
                THEN %(anchor)s + {_seconds(f"60 + {_u(31)} * {3 * 86_400 - 60}")}
            WHEN final = 'RUNNING' AND {_u(30)} < {RECENT_RUNNING_SHARE!r}
                THEN %(anchor)s - {_seconds(f"60 + {_u(31)} * {3_600 - 60}")}
            WHEN {_u(32)} < {BURST_SHARE!r} AND slot <= %(anchor)s THEN slot
            ELSE e0 END"""
        tags = f"ftags || {_production_tags()}"
    else:
        expected = "e0"
        tags = f"ftags || CASE WHEN {_u(4)} < 0.3 THEN jsonb_build_array({extra_tags} -> floor({_u(5)} * {len(EXTRA_TAGS)})::int) ELSE '[]'::jsonb END"
    return f"""
    draws AS (
        SELECT p, md5(%(prefix)s || p)::uuid AS id, f.id AS flow_id, f.workspace_id, f.kind, f.tags AS ftags,
               {_final_state()} AS final, e0,
               date_trunc('hour', e0) + CASE WHEN extract(minute FROM e0) >= 30 THEN interval '30 minutes' ELSE interval '0' END
                 + CASE WHEN {_u(33)} < {OFF_BY_A_FRACTION!r} THEN {_seconds(f"{_u(34)} * 2 - 1")} ELSE interval '0' END AS slot
        FROM (
            SELECT p, {_u(2)} AS fu, floor({_u(1)} * %(flows)s)::int AS flow_pos,
                   %(anchor)s - {_seconds(f"{_u(3)} * {DAYS * 86_400}")} AS e0
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) AS p
        ) AS g
        JOIN pg_temp.seed_flow AS f ON f.ws_pos = mod(g.p, %(workspaces)s) AND f.flow_pos = g.flow_pos
        {{unless_stored}}
    ),
    shaped AS (
        SELECT d.*, x.expected, {tags} AS tags,
               ({_seconds(f"1 + least(-ln(1 - {_u(10)}) * 120, 3600)")}) AS took,
               least(x.expected - {_seconds(f"60 + {_u(11)} * {86_400 - 60}")}, %(anchor)s - interval '1 second') AS made
        FROM draws AS d CROSS JOIN LATERAL (SELECT {expected} AS expected) AS x
    ),
    runs AS MATERIALIZED (
        SELECT s.*,
               (%(adjectives)s::text[])[1 + floor({_u(6)} * %(n_adjectives)s)::int] || '-'
                 || (%(animals)s::text[])[1 + floor({_u(7)} * %(n_animals)s)::int] AS name,
               t0.*, st.*, h.*,
               {_u(9)} < %(task_share)s AND h.start_time IS NOT NULL AS has_tasks
        FROM shaped AS s CROSS JOIN LATERAL (
            SELECT
              CASE WHEN s.final = 'COMPLETED' AND {_u(8)} < 0.12 THEN 3
                   WHEN s.final IN ('COMPLETED', 'FAILED', 'CRASHED', 'RUNNING', 'CANCELLED') THEN 2
                   WHEN s.final = 'SCHEDULED' AND s.expected + interval '15 seconds' < %(anchor)s THEN 2
                   ELSE 1 END AS n_states,
              s.expected + {_seconds(f"{_u(12)} * 60")} AS late_start,
              s.expected + {_seconds(f"1 + {_u(12)} * 29")} AS running_at,
              s.made + (s.expected - s.made) * {_u(13)} AS cancelled_at
        ) AS t0 CROSS JOIN LATERAL (
            SELECT
              -- the states: (type, name, timestamp, scheduled time) × 3
              CASE WHEN t0.n_states = 3 OR s.final IN ('SCHEDULED', 'CANCELLED') THEN 'SCHEDULED'
                   WHEN s.final IN ('PENDING', 'RUNNING') THEN 'PENDING' ELSE 'RUNNING' END AS t1,
              CASE WHEN t0.n_states = 3 OR s.final IN ('SCHEDULED', 'CANCELLED') THEN s.made ELSE s.expected END AS ts1,
              CASE WHEN t0.n_states = 3 OR s.final IN ('SCHEDULED', 'CANCELLED') THEN s.expected END AS sched1,
              CASE WHEN t0.n_states = 3 THEN 'RUNNING' WHEN s.final = 'SCHEDULED' THEN 'SCHEDULED'
                   WHEN t0.n_states = 2 THEN s.final END AS t2,
              CASE WHEN t0.n_states = 3 THEN t0.late_start
                   WHEN s.final = 'SCHEDULED' THEN s.expected + interval '15 seconds'
                   WHEN s.final = 'RUNNING' THEN t0.running_at
                   WHEN s.final = 'CANCELLED' THEN t0.cancelled_at
                   ELSE s.expected + s.took END AS ts2,
              CASE WHEN s.final = 'SCHEDULED' THEN s.expected END AS sched2,
              t0.late_start + s.took AS ts3
        ) AS st CROSS JOIN LATERAL (
            SELECT
              s.final AS state_type,
              CASE WHEN s.final = 'SCHEDULED' AND t0.n_states = 2 THEN 'Late'
                   ELSE initcap(s.final) END AS state_name,
              CASE t0.n_states WHEN 3 THEN st.ts3 WHEN 2 THEN st.ts2 ELSE st.ts1 END AS state_timestamp,
              CASE WHEN s.final IN ('COMPLETED', 'FAILED', 'CRASHED') THEN
                     CASE WHEN t0.n_states = 3 THEN t0.late_start ELSE s.expected END
                   WHEN s.final = 'RUNNING' THEN t0.running_at END AS start_time,
              CASE WHEN s.final IN ('COMPLETED', 'FAILED', 'CRASHED') THEN
                     CASE WHEN t0.n_states = 3 THEN st.ts3 ELSE st.ts2 END END AS end_time,
              CASE WHEN s.final IN ('COMPLETED', 'FAILED', 'CRASHED') THEN s.took ELSE interval '0' END AS total_run_time,
              CASE WHEN s.final = 'SCHEDULED' THEN s.expected END AS next_scheduled_start_time,
              CASE WHEN s.final IN ('COMPLETED', 'FAILED', 'CRASHED', 'RUNNING') THEN 1 ELSE 0 END AS run_count,
              st.ts1 AS created,
              CASE t0.n_states WHEN 3 THEN st.ts3 WHEN 2 THEN st.ts2 ELSE st.ts1 END AS updated,
              md5(%(prefix)s || s.p || ':s' || t0.n_states)::uuid AS state_id
        ) AS h
    )"""


def _insert_sql(production: bool, tables: dict[str, str], tasks: TaskShape, *, top_up: bool) -> str:
    """One statement: the batch's runs, their states, task runs and task-run states
    (``top_up``: only the runs not stored yet; otherwise the table was empty)."""
    per_run = tasks.per_run
    flow_run_policy = json.dumps(FLOW_RUN_POLICY_DEFAULTS)
    task_run_policy = json.dumps(TASK_RUN_POLICY_DEFAULTS)
    state_details = "jsonb_build_object('flow_run_id', r.id::text)"
    task_state = (
        "CASE WHEN r.final = 'COMPLETED' THEN 'COMPLETED' "
        f"WHEN r.final IN ('FAILED', 'CRASHED') THEN CASE WHEN i = {per_run - 1} THEN 'FAILED' ELSE 'COMPLETED' END "
        "WHEN i < 2 THEN 'COMPLETED' WHEN i = 2 THEN 'RUNNING' ELSE 'PENDING' END"
    )
    unless_stored = (
        f"WHERE NOT EXISTS (SELECT 1 FROM {tables['runs_app.FlowRun']} AS stored "
        "WHERE stored.id = md5(%(prefix)s || g.p)::uuid)"
    )
    runs = _runs_sql(production).replace("{unless_stored}", unless_stored if top_up else "")
    return f"""
    WITH {runs},
    flow_runs AS (
        INSERT INTO {tables["runs_app.FlowRun"]} ({", ".join(FLOW_RUN_COLUMNS)})
        SELECT id, workspace_id, created, updated, name, '{flow_run_policy}'::jsonb, tags,
               state_type, state_name, state_timestamp, run_count,
               expected, next_scheduled_start_time, start_time, end_time,
               total_run_time, jsonb_build_object('n', floor({_u(14)} * 100)::int), '{{}}'::jsonb, false, '1.0',
               flow_id, state_id
        FROM runs
        RETURNING 1
    ),
    flow_run_states AS (
        INSERT INTO {tables["runs_app.FlowRunState"]} ({", ".join((*STATE_COLUMNS, "flow_run_id"))})
        SELECT md5(%(prefix)s || r.p || ':s' || v.n)::uuid, r.workspace_id, v.at, v.at, v.type,
               CASE WHEN v.type = 'SCHEDULED' AND v.n = 2 THEN 'Late' ELSE initcap(v.type) END, v.at,
               CASE WHEN v.sched IS NULL THEN {state_details}
                    ELSE {state_details} || jsonb_build_object('scheduled_time',
                         to_char(v.sched AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00') END,
               r.id
        FROM runs AS r CROSS JOIN LATERAL (
            VALUES (1, r.t1, r.ts1, r.sched1), (2, r.t2, r.ts2, r.sched2), (3, 'COMPLETED', r.ts3, NULL)
        ) AS v (n, type, at, sched)
        WHERE v.n <= r.n_states
        RETURNING 1
    ),
    tasks AS MATERIALIZED (
        SELECT r.id AS flow_run_id, r.workspace_id, r.tags, r.kind, r.p, i,
               md5(%(prefix)s || r.p || ':t' || i)::uuid AS id,
               md5(%(prefix)s || r.p || ':ts' || i)::uuid AS state_id,
               {task_state} AS type,
               r.start_time + (coalesce(r.end_time, r.start_time + interval '60 seconds') - r.start_time)
                 * ((i + 0.5) / {per_run}) AS at
        FROM runs AS r CROSS JOIN generate_series(0, {per_run - 1}) AS i
        WHERE r.has_tasks
    ),
    task_runs AS (
        INSERT INTO {tables["runs_app.TaskRun"]} ({", ".join(TASK_RUN_COLUMNS)})
        SELECT id, workspace_id, at, at, kind || '-task-' || i || '-0', '{task_run_policy}'::jsonb, tags,
               type, initcap(type), at, CASE WHEN type = 'RUNNING' THEN 1 ELSE 0 END,
               at, CASE WHEN type = 'RUNNING' THEN at END, NULL, interval '0',
               kind || '-task-' || i, '0', '{{}}'::jsonb, 1, flow_run_id, state_id
        FROM tasks
        RETURNING 1
    ),
    task_run_states AS (
        INSERT INTO {tables["runs_app.TaskRunState"]} ({", ".join((*STATE_COLUMNS, "task_run_id"))})
        SELECT state_id, workspace_id, at, at, type, initcap(type), at,
               jsonb_build_object('flow_run_id', flow_run_id::text, 'task_run_id', id::text), id
        FROM tasks
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM flow_runs), (SELECT count(*) FROM flow_run_states),
           (SELECT count(*) FROM task_runs), (SELECT count(*) FROM task_run_states)
    """


def rebuild_history_rollup(cursor: Any, tables: dict[str, str]) -> None:
    """The flow-run history rollup recomputed from the runs, set-based (PostgreSQL): each
    flow's rows, the all-flows rows per hour (nil flow id) and per minute, the sums of
    ``contribution``, then each workspace's all-hours rows summed from its all-flows rows."""
    from runs_app.models import FlowRunHistoryBucket
    from runs_app.rollup.writes import ALL_FLOWS, ALL_HOURS, ALL_HOURS_BUCKET, SUM_FIELDS

    bucket = FlowRunHistoryBucket._meta.db_table
    cursor.execute(f"DELETE FROM {bucket}")
    insert_rollup_rows(cursor, tables["runs_app.FlowRun"], hours=True, minutes=True)
    cursor.execute(
        f"""
        INSERT INTO {bucket} (workspace_id, flow_id, bucket, state_type, state_name, {", ".join(SUM_FIELDS)})
        SELECT workspace_id, %s, %s, state_type, state_name, {", ".join(f"sum({name})" for name in SUM_FIELDS)}
        FROM {bucket} WHERE flow_id = %s
        GROUP BY workspace_id, state_type, state_name
        """,
        [ALL_HOURS, ALL_HOURS_BUCKET, ALL_FLOWS],
    )


def insert_rollup_rows(cursor: Any, runs_table: str, *, hours: bool, minutes: bool) -> None:
    """Insert the rollup rows summed from the runs of ``runs_table`` by one grouped
    statement (PostgreSQL): ``hours``, each flow's and each workspace's all-flows rows per
    hour; ``minutes``, each workspace's all-flows rows per minute."""
    from runs_app.models import FlowRunHistoryBucket
    from runs_app.rollup.writes import ALL_FLOWS, ALL_FLOWS_BY_MINUTE

    kinds = ["('hour', NULL::uuid)", "('hour', %(all_flows)s::uuid)"] if hours else []
    if minutes:
        kinds.append("('minute', %(by_minute)s::uuid)")
    terminal = ", ".join(f"'{state}'" for state in sorted(TERMINAL_STATE_TYPES))
    unstarted = f"r.start_time IS NULL AND r.state_type NOT IN ({terminal})"
    cursor.execute(
        f"""
        INSERT INTO {FlowRunHistoryBucket._meta.db_table} (
            workspace_id, flow_id, bucket, state_type, state_name, count_runs, run_time_sum,
            running_since_sum, started_lateness_sum, unstarted_count, unstarted_expected_sum)
        SELECT r.workspace_id, coalesce(a.flow_id, r.flow_id),
               date_trunc(a.unit, r.expected_start_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
               r.state_type, coalesce(r.state_name, ''), count(*),
               sum(extract(epoch FROM r.total_run_time))::float8,
               sum(CASE WHEN r.state_type = '{StateType.RUNNING}' AND r.state_timestamp IS NOT NULL
                        THEN extract(epoch FROM r.state_timestamp) ELSE 0 END)::float8,
               sum(CASE WHEN r.start_time IS NOT NULL
                        THEN greatest(extract(epoch FROM r.start_time - r.expected_start_time), 0) ELSE 0 END)::float8,
               count(*) FILTER (WHERE {unstarted}),
               coalesce(sum(extract(epoch FROM r.expected_start_time)) FILTER (WHERE {unstarted}), 0)::float8
        FROM {runs_table} AS r CROSS JOIN (VALUES {", ".join(kinds)}) AS a (unit, flow_id)
        WHERE r.expected_start_time IS NOT NULL AND r.state_type IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
        """,
        {"all_flows": ALL_FLOWS, "by_minute": ALL_FLOWS_BY_MINUTE},
    )


def _schema_to_rebuild(cursor: Any, tables: Sequence[str]) -> list[tuple[str, str, str]]:
    """The secondary indexes, unique and foreign-key constraints on ``tables`` (and the
    foreign keys of other tables that point at them), as (kind, drop, create) statements
    made from their own definitions; primary keys stay."""
    cursor.execute(
        """
        SELECT 'constraint', format('ALTER TABLE %%s DROP CONSTRAINT %%I', c.conrelid::regclass, c.conname),
               format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', c.conrelid::regclass, c.conname,
                      pg_get_constraintdef(c.oid)),
               CASE c.contype WHEN 'f' THEN 0 ELSE 1 END
        FROM pg_constraint AS c
        WHERE c.contype IN ('u', 'f')
          AND (c.conrelid = ANY(%s::regclass[]) OR c.confrelid = ANY(%s::regclass[]))
        UNION ALL
        SELECT 'index', format('DROP INDEX %%s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), 2
        FROM pg_index AS i
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
        ORDER BY 4, 2
        """,
        [list(tables)] * 3,
    )
    # Foreign keys dropped first (one may depend on a unique index) and created last.
    return [(kind, drop, create) for kind, drop, create, _ in cursor.fetchall()]


MARKER = "orion_seed: unfinished bulk seed, to rebuild: "


def _setup_session(cursor: Any, seed_value: int, workspaces: Sequence[SeedWorkspace]) -> None:
    """The session's draw function and flow table (each connection that inserts needs them)."""
    cursor.execute("SET work_mem = '256MB'")
    cursor.execute(
        "CREATE OR REPLACE FUNCTION pg_temp.seed_u(p bigint, k int) RETURNS float8 LANGUAGE sql IMMUTABLE "
        f"PARALLEL SAFE AS 'SELECT ((hashint8extended(p, {int(seed_value)}::bigint * 1000 + k) >> 11) "
        "& 9007199254740991)::float8 / 9007199254740992.0'"
    )
    cursor.execute("DROP TABLE IF EXISTS pg_temp.seed_flow")
    cursor.execute(
        "CREATE TEMP TABLE seed_flow (ws_pos int, flow_pos int, id uuid, workspace_id int, kind text, tags jsonb)"
    )
    flows = [
        (ws_pos, flow_pos, spec.id, workspace.id, spec.kind, json.dumps(list(spec.tags)))
        for ws_pos, workspace in enumerate(workspaces)
        for flow_pos, spec in enumerate(workspace.flows)
    ]
    cursor.executemany("INSERT INTO seed_flow VALUES (%s, %s, %s, %s, %s, %s::jsonb)", flows)
    cursor.execute("ANALYZE seed_flow")


def _teardown_session(cursor: Any) -> None:
    cursor.execute("DROP TABLE IF EXISTS pg_temp.seed_flow")
    cursor.execute("DROP FUNCTION IF EXISTS pg_temp.seed_u")
    cursor.execute("RESET work_mem")


def _finish(cursor: Any, tables: dict[str, str], progress: Progress) -> None:
    """Rebuild what an unfinished bulk seed dropped (its statements are in the marker
    comment on the runs table) and the rollup, and clear the marker: one transaction."""
    from django.db import transaction

    cursor.execute("SELECT obj_description(%s::regclass, 'pg_class')", [tables["runs_app.FlowRun"]])
    comment = cursor.fetchone()[0] or ""
    if not comment.startswith(MARKER):
        return
    creates = json.loads(comment[len(MARKER) :])
    with transaction.atomic():
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")  # index sorts in memory
        cursor.execute("SET LOCAL work_mem = '256MB'")  # the foreign keys' validating joins
        for index, create in enumerate(creates):
            progress("indexes", index, len(creates), "indexes")
            cursor.execute(create)
        progress("indexes", len(creates), len(creates), "indexes")
        progress("rollup", 0, 1, "steps")
        rebuild_history_rollup(cursor, tables)
        cursor.execute(f"COMMENT ON TABLE {tables['runs_app.FlowRun']} IS NULL")
        progress("rollup", 1, 1, "steps")


def seed_postgres(
    *,
    runs: int,
    seed_value: int,
    anchor: dt.datetime,
    workspaces: Sequence[SeedWorkspace],
    tasks: TaskShape,
    production: bool,
    vacuum: bool,
    progress: Progress,
    batch: int | None = None,
    jobs: int = JOBS,
) -> dict[str, int]:
    """Insert the missing runs of positions ``0 .. runs - 1`` (and their states and task
    runs), rebuild the rollup and analyse; the rows inserted per table.

    A small seed is one transaction. A bulk one (:data:`BULK_RUNS` new runs or more)
    drops the indexes and constraints and records how to rebuild them in a comment on
    the runs table, in one transaction; ``jobs`` connections then insert batches, each
    batch its own transaction; then one transaction rebuilds them and the rollup and
    clears the comment. A bulk seed stopped half-way leaves whole batches and the
    comment, and the next seed (any size) finishes the rebuild first, then tops up."""
    from django.apps import apps
    from django.db import connection, transaction

    from runs_app.names import ADJECTIVES, ANIMALS

    tables = {label: apps.get_model(label)._meta.db_table for label in SEED_TABLES}
    ids = [workspace.id for workspace in workspaces]
    counts = dict.fromkeys(("flow_runs", "flow_run_states", "task_runs", "task_run_states"), 0)
    params: dict[str, Any] = {
        "prefix": f"{seed_value}:{'production' if production else 'runs'}:{','.join(map(str, ids))}:",
        "anchor": anchor,
        "flows": len(workspaces[0].flows),
        "workspaces": len(workspaces),
        "adjectives": list(ADJECTIVES),
        "animals": list(ANIMALS),
        "n_adjectives": len(ADJECTIVES),
        "n_animals": len(ANIMALS),
        "task_share": tasks.share / STARTED_SHARE,
    }
    with connection.cursor() as cursor:
        _finish(cursor, tables, progress)
        cursor.execute(f"SELECT count(*) FROM {tables['runs_app.FlowRun']}")
        stored = cursor.fetchone()[0]
    statement = _insert_sql(production, tables, tasks, top_up=stored > 0)
    step = batch or BATCH
    batches = [(lo, min(lo + step, runs)) for lo in range(0, runs, step)]
    lock = threading.Lock()
    done = [0]

    def insert(cursor: Any, lo: int, hi: int) -> None:
        cursor.execute(statement, {**params, "lo": lo, "hi": hi})
        row = cursor.fetchone()
        with lock:
            for key, value in zip(counts, row, strict=True):
                counts[key] += value
            done[0] += hi - lo
            progress("rows", done[0], runs, "runs")

    progress("rows", 0, runs, "runs")
    if runs - min(stored, runs) < BULK_RUNS:
        with transaction.atomic(), connection.cursor() as cursor:
            _setup_session(cursor, seed_value, workspaces)
            for lo, hi in batches:
                insert(cursor, lo, hi)
            progress("rollup", 0, 1, "steps")
            rebuild_history_rollup(cursor, tables)
            _teardown_session(cursor)
            progress("rollup", 1, 1, "steps")
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            rebuild = _schema_to_rebuild(cursor, list(tables.values()))
            for _, drop, _ in rebuild:
                cursor.execute(drop)
            creates = [create for _, _, create in reversed(rebuild)]
            cursor.execute("SELECT quote_literal(%s)", [MARKER + json.dumps(creates)])  # COMMENT takes no parameter
            cursor.execute(f"COMMENT ON TABLE {tables['runs_app.FlowRun']} IS {cursor.fetchone()[0]}")
        stop = threading.Event()

        def work(share: Sequence[tuple[int, int]]) -> None:
            from django.db import connection as own  # this thread's connection

            try:
                with own.cursor() as cursor:
                    _setup_session(cursor, seed_value, workspaces)
                    for lo, hi in share:
                        if stop.is_set():
                            return
                        with transaction.atomic():
                            insert(cursor, lo, hi)
            except BaseException:
                stop.set()
                raise
            finally:
                own.close()

        try:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(work, batches[job::jobs]) for job in range(jobs)]
                for future in futures:
                    future.result()
        finally:
            with connection.cursor() as cursor:
                _finish(cursor, tables, progress)
    labels = ("flows_app.Flow", *SEED_TABLES, "runs_app.FlowRunHistoryBucket")
    names = [apps.get_model(label)._meta.db_table for label in labels]
    with connection.cursor() as cursor:
        for index, name in enumerate(names):
            progress("analyze", index, len(names), "tables")
            cursor.execute(f"VACUUM (ANALYZE) {name}" if vacuum else f"ANALYZE {name}")
        progress("analyze", len(names), len(names), "tables")
    return counts
