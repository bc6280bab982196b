"""Reads of flow runs and task runs, combining filters across resources (reference §C.1).

Filters on resources a run points to (its flow, its deployment, its flow run) become
joins through a column prefix; filters on resources that point at the run (its task
runs) become correlated ``EXISTS`` sub-queries.

Every read is of one workspace: the runs' own ``workspace_id`` condition (which leads the
listing indexes ``ix_fr_ws_*`` / ``ix_tr_ws_*``) keeps the joined rows in it too, since a
run points only at rows of its workspace, and each ``EXISTS`` sub-query repeats the
outer row's workspace.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection
from django.db.models import (
    BigIntegerField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from flows_app.filters import DEPLOYMENT_FILTER, FLOW_FILTER, WORK_POOL_FILTER, WORK_QUEUE_FILTER
from flows_app.models import Flow
from orion_project.db import EveryRowCount, JSONArrayContainsAll, RowsSum, WorkspaceTagsContainAll
from orion_project.filtering import Condition, FilterBody, combine, narrowed
from orion_project.prepared import PageByBody, ValueByBody
from runs_app.filters import (
    FLOW_RUN_FILTER,
    FLOW_RUN_SORT,
    RELATED_RUN_AND_WORK_FILTERS,
    RELATED_RUN_FILTERS,
    TASK_RUN_FILTER,
    TASK_RUN_SORT,
)
from runs_app.models import FlowRun, FlowRunQuerySet, TaskRun, TaskRunQuerySet
from runs_app.rollup.reads import outside_rollup, rollup_scope, rollup_totals


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


def _task_runs_of_outer_flow_run(task_runs: FilterBody) -> Exists:
    """``EXISTS`` a task run of the outer flow run (in its workspace) matching ``task_runs``."""
    tasks = TaskRun.objects.filter(flow_run_id=OuterRef("pk"), workspace_id=OuterRef("workspace_id"))
    return Exists(TASK_RUN_FILTER.apply(tasks, task_runs))


def flow_run_exists(*, link: str, flow_runs: FilterBody, task_runs: FilterBody) -> Condition:
    """``EXISTS`` a flow run of the outer row's workspace whose ``link`` column is the
    outer row and that matches ``flow_runs`` and (if given) has a task run matching
    ``task_runs``."""
    if flow_runs is None and task_runs is None:
        return None
    of_outer = FlowRun.objects.filter(**{link: OuterRef("pk")}, workspace_id=OuterRef("workspace_id"))
    runs = FLOW_RUN_FILTER.apply(of_outer, flow_runs)
    if task_runs is not None:
        runs = runs.filter(_task_runs_of_outer_flow_run(task_runs))
    return Q(Exists(runs))


_TAGS_ALL = "tags__" + JSONArrayContainsAll.lookup_name


def _tags_in_workspace(condition: Condition, workspace_id: int, prefix: str = "") -> Condition:
    """``condition`` with each ``tags all_`` on the flow run at ``prefix`` read through the
    per-workspace tag index (:class:`orion_project.db.WorkspaceTagsContainAll`); the
    and/or structure of the filter is kept as it is."""
    if not isinstance(condition, Q):
        return condition
    rewritten = copy.copy(condition)
    rewritten.children = [_tags_child_in_workspace(child, workspace_id, prefix) for child in condition.children]
    return rewritten


def _tags_child_in_workspace(child: Any, workspace_id: int, prefix: str) -> Any:
    if isinstance(child, tuple) and child[0] == prefix + _TAGS_ALL:
        return WorkspaceTagsContainAll(F(f"{prefix}workspace_id"), F(f"{prefix}tags"), workspace_id, child[1])
    return _tags_in_workspace(child, workspace_id, prefix)


def _flow_condition(flows: FilterBody, workspace_id: int) -> Condition:
    """Runs whose flow matches ``flows``. Flow ids alone are compared with the runs' own
    ``flow_id`` (no join). Any other field is a semi-join on the workspace's flows, so the
    planner weighs (and a name search reads) only this workspace's flows rather than
    every workspace's flows of that name."""
    given = {key for key, value in (flows or {}).items() if value is not None}
    if given <= {"id", "operator"}:
        return FLOW_FILTER.to_q(flows, "flow__")
    on_flows = FLOW_FILTER.to_q(flows)
    if on_flows is None:  # every given field was empty (``tags: {all_: []}``): no condition
        return None
    return Q(flow_id__in=Flow.objects.filter(on_flows, workspace_id=workspace_id).values("id"))


def flow_runs_matching(*, filters: FilterBody, workspace_id: int) -> FlowRunQuerySet:
    """Flow runs matching every filter key of a validated query body (reference §C.1).

    ``filters`` is the body of ``/flow_runs/filter``, ``/count``, ``/history``, lateness and
    the UI routes (keys of :data:`runs_app.filters.RELATED_RUN_AND_WORK_FILTERS`; other keys,
    such as ``sort`` or ``limit``, are not read here), so every route that filters flow runs
    reads the same conditions and a count can never drift from its list. Only the
    workspace's runs match.
    """
    body = filters or {}
    conditions: list[Condition] = [
        _tags_in_workspace(FLOW_RUN_FILTER.to_q(body.get("flow_runs")), workspace_id),
        _flow_condition(body.get("flows"), workspace_id),
        _deployment_condition(body.get("deployments"), ""),
        work_queue_condition(body.get("work_pools"), body.get("work_pool_queues"), ""),
    ]
    if body.get("task_runs") is not None:
        conditions.append(Q(_task_runs_of_outer_flow_run(body["task_runs"])))
    return narrowed(FlowRun.objects.filter(workspace_id=workspace_id), conditions)


def task_runs_matching(*, filters: FilterBody, workspace_id: int) -> TaskRunQuerySet:
    """The workspace's task runs matching every filter key of a validated query body;
    the flow, flow-run and deployment filters apply to the task's flow run (a task run
    without one never matches them)."""
    body = filters or {}
    flows, flow_runs = body.get("flows"), body.get("flow_runs")
    conditions: list[Condition] = [
        TASK_RUN_FILTER.to_q(body.get("task_runs")),
        _tags_in_workspace(FLOW_RUN_FILTER.to_q(flow_runs, "flow_run__"), workspace_id, "flow_run__"),
        FLOW_FILTER.to_q(flows, "flow_run__flow__"),
        _deployment_condition(body.get("deployments"), "flow_run__"),
    ]
    if flow_runs is not None or flows is not None:
        conditions.append(Q(flow_run__isnull=False))
    return narrowed(TaskRun.objects.filter(workspace_id=workspace_id), conditions)


# ------------------------------------------------------------- statements compiled by body
# Each builder reads nothing but its body and workspace (``orion_project.prepared``; a
# test enforces it).


# Sorts that ``ix_fr_ws_state_expected`` (workspace, state type, expected start) reads in
# order within one state type, in either direction.
_SORTS_WITHIN_A_STATE = ("EXPECTED_START_TIME_DESC", "EXPECTED_START_TIME_ASC")


def _state_types_read_apart(body: Mapping[str, Any]) -> list[str] | None:
    """The state types whose runs a page sorted by expected start reads one type at a
    time: when ``flow_runs`` asks for any of several types and, besides, only for
    conditions joined by ``and_``. Else ``None``.

    Over one index in expected-start order, PostgreSQL skips every run of the other
    types: at 1M runs of production shape the runs scheduled ahead (about 100,000) all
    come first newest-first. Each type's runs are in order in the state index, so the
    page is among each type's first ``offset + limit``."""
    runs = body.get("flow_runs") or {}
    if body.get("sort") not in _SORTS_WITHIN_A_STATE or runs.get("operator", "and_") != "and_":
        return None
    if not connection.features.supports_slicing_ordering_in_compound:  # SQLite: one read
        return None
    state = runs.get("state") or {}
    types = state.get("type") or {}
    others = [value for key, value in state.items() if key not in ("type", "operator") and value is not None]
    if others or state.get("operator", "and_") != "and_" or types.get("not_any_") is not None:
        return None
    wanted = list(dict.fromkeys(types.get("any_") or []))
    return wanted if len(wanted) > 1 else None


def _first_of_each_state_type(body: Mapping[str, Any], types: list[str], workspace_id: int) -> QuerySet[Any]:
    """The ids of each state type's first ``offset + limit`` matching runs in the page's
    order, together (a ``UNION ALL`` of ordered, limited reads)."""
    order = FLOW_RUN_SORT.order_by(body["sort"])
    count = (body.get("offset") or 0) + body["limit"]
    branches = []
    for state_type in types:
        runs = {**body["flow_runs"], "state": {**body["flow_runs"]["state"], "type": {"any_": [state_type]}}}
        matching = flow_runs_matching(filters={**body, "flow_runs": runs}, workspace_id=workspace_id)
        branches.append(matching.order_by(*order).values("id")[:count])
    return branches[0].union(*branches[1:], all=True)


# Sorts by a run's start, or its expected start while it has not started: each half of
# the runs is in order in its own partial index, ``ix_fr_ws_not_started`` (by expected
# start) and ``ix_fr_ws_started`` (by start).
_SORTS_BY_START = {"START_TIME_DESC": "-", "START_TIME_ASC": ""}


def _first_started_and_not(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Any] | None:
    """For a page sorted by start time (PostgreSQL), the ids of the first ``offset +
    limit`` matching runs not started, by expected start, and of the first started ones,
    by start: the page is among them (a ``UNION ALL`` of two ordered, limited reads).
    Else ``None``.

    Over one index of ``COALESCE(start_time, expected_start_time)``, an expected-start
    window (the dashboard's day, the Flow runs page's week) walks past every run
    scheduled ahead of it, since those sort first newest-first: about a tenth of the runs
    in production, nearly a million rows read for 44 shown at 10M runs."""
    direction = _SORTS_BY_START.get(body.get("sort") or "")
    if direction is None or not connection.features.supports_slicing_ordering_in_compound:
        return None
    count = (body.get("offset") or 0) + body["limit"]
    runs = flow_runs_matching(filters=body, workspace_id=workspace_id)
    not_started = runs.filter(start_time__isnull=True).order_by(f"{direction}expected_start_time")
    started = runs.filter(start_time__isnull=False).order_by(f"{direction}start_time")
    return not_started.values("id")[:count].union(started.values("id")[:count], all=True)


def flow_runs_in_order(*, body: Mapping[str, Any], workspace_id: int) -> FlowRunQuerySet:
    """The matching runs in the body's ``sort`` order, read so that the first ``offset +
    limit`` of them (the page) are found without walking every matching run: their ids
    are first chosen apart (by state type, or started or not) when the sort allows it."""
    order = FLOW_RUN_SORT.order_by(body.get("sort"))
    types = _state_types_read_apart(body)
    first = (
        _first_of_each_state_type(body, types, workspace_id)
        if types is not None
        else _first_started_and_not(body, workspace_id)
    )
    if first is None:
        return flow_runs_matching(filters=body, workspace_id=workspace_id).order_by(*order)
    return FlowRun.objects.filter(workspace_id=workspace_id, pk__in=first).order_by(*order)


@PageByBody
def _flow_run_page(body: Mapping[str, Any], workspace_id: int) -> QuerySet[FlowRun]:
    """The page's ids are chosen first, then only their rows are read with the state,
    work queue and pool joined. Read in one go, PostgreSQL joins every matching run
    before a sort the index does not give (a flow's page sorted by start time: each of
    the flow's 1,000 runs at 1M runs got its state read, for 200 shown)."""
    offset = body.get("offset") or 0
    page = flow_runs_in_order(body=body, workspace_id=workspace_id).values("id")[offset : offset + body["limit"]]
    order = FLOW_RUN_SORT.order_by(body.get("sort"))
    return FlowRun.objects.filter(workspace_id=workspace_id, pk__in=page).for_response().order_by(*order)


@PageByBody
def _task_run_page(body: Mapping[str, Any], workspace_id: int) -> QuerySet[TaskRun]:
    runs = task_runs_matching(filters=body, workspace_id=workspace_id).for_response()
    offset = body.get("offset") or 0
    return runs.order_by(*TASK_RUN_SORT.order_by(body.get("sort")))[offset : offset + body["limit"]]


def flow_run_page(*, filters: Mapping[str, Any], limit: int, workspace_id: int) -> list[FlowRun]:
    """``POST /flow_runs/filter``: a sorted page of the workspace's matching runs, their
    state, work queue and pool joined; the SQL compiled once per distinct body. A page
    of no rows (``limit: 0``, which the dashboard sends) reads nothing."""
    if limit == 0:
        return []
    return _flow_run_page.rows({**filters, "limit": limit}, workspace_id=workspace_id)


def task_run_page(*, filters: Mapping[str, Any], limit: int, workspace_id: int) -> list[TaskRun]:
    """``POST /task_runs/filter``: as :func:`flow_run_page`, with the task runs' state."""
    return _task_run_page.rows({**filters, "limit": limit}, workspace_id=workspace_id)


def compiled_count(counter: ValueByBody, filters: Mapping[str, Any], keys: Iterable[str], *, workspace_id: int) -> int:
    """A count compiled once per distinct body: the body is only the filter ``keys`` the
    count reads (a request's ``sort``, ``limit`` or ``offset`` would compile it again);
    ``0`` when the body can match nothing."""
    body = {key: filters.get(key) for key in keys}
    return int(counter.value(body, workspace_id=workspace_id, empty=0) or 0)


def flow_run_count(*, filters: Mapping[str, Any], workspace_id: int) -> int:
    """``POST /flow_runs/count``: from the rollup when it can answer (a sum over a few
    thousand rows however many runs there are), else by counting the matching runs.
    Either way one statement (the rollup's sum and the count of the runs outside it are
    added up in the database), compiled once per distinct body."""
    return compiled_count(_flow_run_count, filters, RELATED_RUN_AND_WORK_FILTERS, workspace_id=workspace_id)


@ValueByBody
def _flow_run_count(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Any]:
    runs = flow_runs_matching(filters=body, workspace_id=workspace_id).order_by()
    scope = rollup_scope(body)
    if scope is None:
        return runs.annotate(total=EveryRowCount()).values("total")
    outside = outside_rollup(runs, workspace_id=workspace_id).annotate(total=EveryRowCount()).values("total")
    summed = Coalesce(RowsSum("count_runs"), 0, output_field=BigIntegerField())
    rows = rollup_totals(scope, workspace_id=workspace_id)
    return rows.order_by().annotate(total=summed + Subquery(outside)).values("total")


def task_run_count(*, filters: Mapping[str, Any], workspace_id: int) -> int:
    """``POST /task_runs/count``: the matching task runs counted in one statement,
    compiled once per distinct body (its datetimes as parameters): the dashboard and a
    flow's page send four each, with a window ending at the browser's current second."""
    return compiled_count(_task_run_count, filters, RELATED_RUN_FILTERS, workspace_id=workspace_id)


@ValueByBody
def _task_run_count(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Any]:
    runs = task_runs_matching(filters=body, workspace_id=workspace_id).order_by()
    return runs.annotate(total=EveryRowCount()).values("total")
