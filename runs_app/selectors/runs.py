"""Reads of flow runs and task runs, combining filters across resources (reference §C.1).

Filters on resources a run points to (its flow, its deployment, its flow run) become
joins through a column prefix; filters on resources that point at the run (its task
runs) become correlated ``EXISTS`` sub-queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Q,
    Sum,
)

from flows_app.filters import DEPLOYMENT_FILTER, FLOW_FILTER, WORK_POOL_FILTER, WORK_QUEUE_FILTER
from orion_project.filtering import Condition, FilterBody, combine, narrowed
from orion_project.prepared import StatementsByBody
from runs_app.filters import FLOW_RUN_FILTER, RELATED_RUN_AND_WORK_FILTERS, TASK_RUN_FILTER
from runs_app.models import FlowRun, FlowRunQuerySet, TaskRun, TaskRunQuerySet
from runs_app.rollup.reads import RollupScope, outside_rollup, rollup_rows, rollup_scope


def _deployment_condition(deployments: FilterBody, prefix: str) -> Condition:
    """Runs whose deployment matches; runs without a deployment never match."""
    if deployments is None:
        return None
    joined = Q(**{f"{prefix}deployment__isnull": False})
    return combine([joined, DEPLOYMENT_FILTER.to_q(deployments, f"{prefix}deployment__")], "and_")


def work_queue_condition(work_pools: FilterBody, work_pool_queues: FilterBody, prefix: str) -> Condition:
    """Rows whose work queue (``{prefix}work_queue``) and its pool match; rows without a
    work queue never match when either filter is given."""
    if work_pools is None and work_pool_queues is None:
        return None
    return combine(
        [
            Q(**{f"{prefix}work_queue__isnull": False}),
            WORK_QUEUE_FILTER.to_q(work_pool_queues, f"{prefix}work_queue__"),
            WORK_POOL_FILTER.to_q(work_pools, f"{prefix}work_queue__work_pool__"),
        ],
        "and_",
    )


def flow_run_exists(*, link: str, flow_runs: FilterBody, task_runs: FilterBody) -> Condition:
    """``EXISTS`` a flow run whose ``link`` column is the outer row and that matches
    ``flow_runs`` and (if given) has a task run matching ``task_runs``."""
    if flow_runs is None and task_runs is None:
        return None
    runs = FLOW_RUN_FILTER.apply(FlowRun.objects.filter(**{link: OuterRef("pk")}), flow_runs)
    if task_runs is not None:
        tasks = TASK_RUN_FILTER.apply(TaskRun.objects.filter(flow_run_id=OuterRef("pk")), task_runs)
        runs = runs.filter(Exists(tasks))
    return Q(Exists(runs))


def flow_runs_matching(*, filters: FilterBody) -> FlowRunQuerySet:
    """Flow runs matching every filter key of a validated query body (reference §C.1).

    ``filters`` is the body of ``/flow_runs/filter``, ``/count``, ``/history``, lateness and
    the UI routes (keys of :data:`runs_app.filters.RELATED_RUN_AND_WORK_FILTERS`; other keys,
    such as ``sort`` or ``limit``, are not read here), so every route that filters flow runs
    reads the same conditions and a count can never drift from its list.
    """
    body = filters or {}
    conditions: list[Condition] = [
        FLOW_RUN_FILTER.to_q(body.get("flow_runs")),
        FLOW_FILTER.to_q(body.get("flows"), "flow__"),
        _deployment_condition(body.get("deployments"), ""),
        work_queue_condition(body.get("work_pools"), body.get("work_pool_queues"), ""),
    ]
    if body.get("task_runs") is not None:
        tasks = TASK_RUN_FILTER.apply(TaskRun.objects.filter(flow_run_id=OuterRef("pk")), body["task_runs"])
        conditions.append(Q(Exists(tasks)))
    return narrowed(FlowRun.objects.all(), conditions)


def task_runs_matching(*, filters: FilterBody) -> TaskRunQuerySet:
    """Task runs matching every filter key of a validated query body; the flow, flow-run
    and deployment filters apply to the task's flow run (a task run without one never
    matches them)."""
    body = filters or {}
    flows, flow_runs = body.get("flows"), body.get("flow_runs")
    conditions: list[Condition] = [
        TASK_RUN_FILTER.to_q(body.get("task_runs")),
        FLOW_RUN_FILTER.to_q(flow_runs, "flow_run__"),
        FLOW_FILTER.to_q(flows, "flow_run__flow__"),
        _deployment_condition(body.get("deployments"), "flow_run__"),
    ]
    if flow_runs is not None or flows is not None:
        conditions.append(Q(flow_run__isnull=False))
    return narrowed(TaskRun.objects.all(), conditions)


_COUNT_STATEMENTS: StatementsByBody[tuple[str, tuple[Any, ...]] | None] = StatementsByBody()


def flow_run_count(*, filters: Mapping[str, Any]) -> int:
    """``POST /flow_runs/count``: from the rollup when it can answer (a sum over a few
    thousand rows however many runs there are), else by counting the matching runs.
    Either way one statement (the rollup's sum and the count of the runs outside it are
    added up in the database), compiled once per distinct body."""
    body = {key: filters.get(key) for key in RELATED_RUN_AND_WORK_FILTERS}
    statement = _COUNT_STATEMENTS.get(connection.alias, body, lambda: _count_statement(body))
    if statement is None:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        return int(cursor.fetchone()[0] or 0)


def _count_statement(filters: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]] | None:
    """The SQL of :func:`flow_run_count` for a body; ``None`` if it can match nothing."""
    runs = flow_runs_matching(filters=filters)
    scope = rollup_scope(filters)
    try:
        if scope is None:
            counted, params = runs.order_by().values("id").query.sql_with_params()
            return f"SELECT COUNT(*) FROM ({counted}) matching", tuple(params)
        summed, summed_params = rollup_rows(scope).order_by().values("count_runs").query.sql_with_params()
        outside, outside_params = outside_rollup(runs).order_by().values("id").query.sql_with_params()
    except EmptyResultSet:
        return None  # e.g. an empty any_ list: Django proves no row matches
    sql = (
        f"SELECT (SELECT COALESCE(SUM(rollup.count_runs), 0) FROM ({summed}) rollup)"
        f" + (SELECT COUNT(*) FROM ({outside}) outside_rollup)"
    )
    return sql, (*summed_params, *outside_params)


def flow_run_counts_by_state() -> dict[tuple[str, str], int]:
    """Flow runs per (state type, state name), live: the rollup's all-flows rows plus
    the runs outside the rollup (``/api/metrics``)."""
    summed = (
        rollup_rows(RollupScope(flow_ids=None, states=None))
        .values_list("state_type", "state_name")
        .annotate(total=Sum("count_runs"))
        .order_by()
    )
    outside = (
        outside_rollup(FlowRun.objects.all())
        .filter(state_type__isnull=False)
        .values_list("state_type", "state_name")
        .annotate(total=Count("id"))
        .order_by()
    )
    counts: dict[tuple[str, str], int] = {}
    for state_type, state_name, total in [*summed, *outside]:
        key = (state_type, state_name or "")
        counts[key] = counts.get(key, 0) + int(total)
    return {key: total for key, total in counts.items() if total > 0}
