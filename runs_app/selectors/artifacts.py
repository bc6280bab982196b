"""Reads of the 2.20 run records: artifacts and their collections, flow-run input,
global concurrency limits.

Artifacts point at runs by plain id columns, so the run-side filters of a body
(``flow_runs``, ``task_runs``, ``flows``, ``deployments``) become ``EXISTS`` sub-queries
on the runs, as in the reference.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from flows_app.filters import DEPLOYMENT_FILTER, FLOW_FILTER
from orion_project.exceptions import ObjectNotFoundError
from orion_project.filtering import Condition, FilterBody, ObjectFilter, combine
from runs_app.filters import FLOW_RUN_FILTER, TASK_RUN_FILTER
from runs_app.filters_220 import ARTIFACT_COLLECTION_FILTER, ARTIFACT_FILTER
from runs_app.models import (
    Artifact,
    ArtifactCollection,
    FlowRun,
    FlowRunInput,
    FlowRunState,
    GlobalConcurrencyLimit,
    TaskRun,
)
from runs_app.selectors.runs import task_runs_matching, work_queue_condition
from runs_app.states import TERMINAL_STATE_TYPES, StateType


def _run_conditions(
    *, flow_runs: FilterBody, task_runs: FilterBody, flows: FilterBody, deployments: FilterBody
) -> list[Condition]:
    conditions: list[Condition] = []
    if flow_runs is not None or flows is not None or deployments is not None:
        runs_condition = combine(
            [
                FLOW_RUN_FILTER.to_q(flow_runs),
                FLOW_FILTER.to_q(flows, "flow__"),
                None
                if deployments is None
                else combine(
                    [Q(deployment__isnull=False), DEPLOYMENT_FILTER.to_q(deployments, "deployment__")], "and_"
                ),
            ],
            "and_",
        )
        runs = FlowRun.objects.filter(pk=OuterRef("flow_run_id"))
        conditions.append(Q(Exists(runs if runs_condition is None else runs.filter(runs_condition))))
    if task_runs is not None:
        tasks = TASK_RUN_FILTER.apply(TaskRun.objects.filter(pk=OuterRef("task_run_id")), task_runs)
        conditions.append(Q(Exists(tasks)))
    return conditions


def _matching(queryset: QuerySet[Any], spec: ObjectFilter, filters: FilterBody) -> QuerySet[Any]:
    body = filters or {}
    related = _run_conditions(
        flow_runs=body.get("flow_runs"),
        task_runs=body.get("task_runs"),
        flows=body.get("flows"),
        deployments=body.get("deployments"),
    )
    condition = combine([spec.to_q(body.get("artifacts")), *related], "and_")
    return queryset if condition is None else queryset.filter(condition)


def artifacts_matching(*, filters: FilterBody) -> QuerySet[Artifact]:
    """Artifacts matching every filter key of a validated body (``artifacts``, ``flow_runs``,
    ``task_runs``, ``flows``, ``deployments``): ``/artifacts/filter`` and ``/count``."""
    return _matching(Artifact.objects.all(), ARTIFACT_FILTER, filters)


def artifact_collections_matching(*, filters: FilterBody) -> QuerySet[ArtifactCollection]:
    """Latest artifacts per key matching a validated body (``/artifacts/latest/...``)."""
    return _matching(ArtifactCollection.objects.all(), ARTIFACT_COLLECTION_FILTER, filters)


def artifact_get(*, artifact_id: uuid.UUID) -> Artifact | None:
    return Artifact.objects.filter(pk=artifact_id).first()


def artifact_latest(*, key: str) -> ArtifactCollection | None:
    """The collection row of a key (the reference answers it in the artifact's shape)."""
    return ArtifactCollection.objects.filter(key=key).first()


def flow_run_input_get(*, flow_run_id: uuid.UUID, key: str) -> FlowRunInput | None:
    return FlowRunInput.objects.filter(flow_run_id=flow_run_id, key=key).first()


def flow_run_inputs_with_prefix(
    *, flow_run_id: uuid.UUID, prefix: str, limit: int, exclude_keys: Sequence[str] = ()
) -> QuerySet[FlowRunInput]:
    """A flow run's inputs whose key starts with ``prefix``, oldest first (``receive_input``)."""
    rows = FlowRunInput.objects.filter(flow_run_id=flow_run_id, key__startswith=prefix)
    if exclude_keys:
        rows = rows.exclude(key__in=list(exclude_keys))
    return rows.order_by("created")[:limit]


def global_limit_get(*, limit_id: uuid.UUID | None = None, name: str | None = None) -> GlobalConcurrencyLimit | None:
    """One global limit by id or by name (as stored: decay is applied on the next write)."""
    rows = (
        GlobalConcurrencyLimit.objects.filter(pk=limit_id)
        if limit_id is not None
        else GlobalConcurrencyLimit.objects.filter(name=name)
    )
    return rows.first()


# --------------------------------------------------------------------- UI: graph-v2


MAX_GRAPH_NODES = 10000
MAX_GRAPH_ARTIFACTS = 10000


class FlowRunGraphTooLarge(Exception):
    """More nodes than the graph may draw (400 ``detail``)."""


def _graph_artifacts(flow_run_id: uuid.UUID) -> dict[uuid.UUID | None, list[dict[str, Any]]]:
    """The flow run's non-result artifacts, oldest first, grouped by task run id."""
    rows = (
        Artifact.objects.filter(flow_run_id=flow_run_id)
        .exclude(type="result")
        .annotate(
            is_latest_row=Exists(ArtifactCollection.objects.filter(key=OuterRef("key"), latest_id=OuterRef("pk")))
        )
        .order_by("created")[:MAX_GRAPH_ARTIFACTS]
    )
    grouped: dict[uuid.UUID | None, list[dict[str, Any]]] = {}
    for artifact in rows:
        grouped.setdefault(artifact.task_run_id, []).append(
            {
                "id": artifact.id,
                "created": artifact.created,
                "key": artifact.key,
                "type": artifact.type,
                "is_latest": artifact.key is None or artifact.is_latest_row,
            }
        )
    return grouped


def flow_run_graph_v2(*, flow_run_id: uuid.UUID, since: dt.datetime) -> dict[str, Any]:
    """The 2.20 UI's graph of a flow run: its task runs and sub-flow runs as nodes, edges from
    the task inputs, its artifacts and its state history.

    A task run shows when it has left PENDING and has a start (or expected start) time; a
    task run standing for a sub-flow run shows as that flow run. Nodes that ended before
    ``since`` are left out.
    """
    run = FlowRun.objects.filter(pk=flow_run_id).values("start_time", "expected_start_time", "end_time").first()
    if run is None:
        raise ObjectNotFoundError(f"Flow run {flow_run_id} not found")
    subflows = {
        subflow.parent_task_run_id: subflow
        for subflow in FlowRun.objects.filter(parent_task_run__flow_run_id=flow_run_id).select_related("flow")
    }
    nodes: dict[uuid.UUID, dict[str, Any]] = {}
    upstream: dict[uuid.UUID, set[uuid.UUID]] = {}
    for task in (
        TaskRun.objects.filter(flow_run_id=flow_run_id)
        .exclude(state_type=StateType.PENDING)
        .exclude(state_type__isnull=True)
    ):
        sub = subflows.get(task.id)
        start = (sub and (sub.start_time or sub.expected_start_time)) or task.start_time or task.expected_start_time
        if start is None:
            continue
        node_id = sub.id if sub is not None else task.id
        end = (sub and sub.end_time) or task.end_time
        if end is None and task.state_type == StateType.COMPLETED:
            end = task.expected_start_time
        nodes[node_id] = {
            "kind": "flow-run" if sub is not None else "task-run",
            "id": node_id,
            "label": f"{sub.flow.name} / {sub.name}" if sub is not None else task.name,
            "state_type": sub.state_type if sub is not None else task.state_type,
            "start_time": start,
            "end_time": end,
        }
        upstream[node_id] = {
            uuid.UUID(str(argument["id"]))
            for arguments in (task.task_inputs or {}).values()
            for argument in arguments or []
            if isinstance(argument, dict) and argument.get("id")
        }
    parents = {node_id: [p for p in ids if p in nodes] for node_id, ids in upstream.items()}
    children: dict[uuid.UUID, list[uuid.UUID]] = {node_id: [] for node_id in nodes}
    for node_id, ids in parents.items():
        for parent in ids:
            children[parent].append(node_id)

    def by_start(ids: list[uuid.UUID]) -> list[dict[str, uuid.UUID]]:
        return [{"id": i} for i in sorted(ids, key=lambda i: nodes[i]["start_time"])]

    artifacts = _graph_artifacts(flow_run_id)
    shown = sorted(
        (node for node in nodes.values() if node["end_time"] is None or node["end_time"] >= since),
        key=lambda node: (node["start_time"], node["end_time"] is None, node["end_time"] or node["start_time"]),
    )
    if len(shown) > MAX_GRAPH_NODES:
        raise FlowRunGraphTooLarge(f"The graph of flow run {flow_run_id} has more than {MAX_GRAPH_NODES} nodes.")
    states = FlowRunState.objects.filter(flow_run_id=flow_run_id).order_by("timestamp")
    return {
        "start_time": run["start_time"] or run["expected_start_time"],
        "end_time": run["end_time"],
        "root_node_ids": [node["id"] for node in shown if not parents[node["id"]]],
        "nodes": [
            [
                node["id"],
                {
                    **node,
                    "parents": by_start(parents[node["id"]]),
                    "children": by_start(children[node["id"]]),
                    "artifacts": artifacts.get(node["id"], []),
                },
            ]
            for node in shown
        ],
        "artifacts": artifacts.get(None, []),
        "states": [
            {"id": state.id, "timestamp": state.timestamp, "type": state.type, "name": state.name} for state in states
        ],
    }


# ------------------------------------------------------------- UI: dashboard counts

DASHBOARD_BUCKETS = 20
FAILED_STATE_TYPES = frozenset({StateType.FAILED, StateType.CRASHED})


def dashboard_task_run_counts(*, filters: Mapping[str, Any], now: dt.datetime) -> list[dict[str, int]]:
    """Finished task runs per 20 equal time buckets (completed vs. failed/crashed) between
    ``task_runs.start_time.after_`` (to the minute) and its ``before_`` or now (end of minute)."""
    task_runs = filters["task_runs"]
    window = task_runs["start_time"]
    start = window["after_"].replace(second=0, microsecond=0)
    end = (window.get("before_") or now).replace(second=59, microsecond=999999)
    width = (end - start).total_seconds() / DASHBOARD_BUCKETS
    terminal = {**task_runs, "state": {"type": {"any_": sorted(TERMINAL_STATE_TYPES)}}}
    runs = task_runs_matching(filters={**filters, "task_runs": terminal})
    queue_condition = work_queue_condition(filters.get("work_pools"), filters.get("work_queues"), "flow_run__")
    if queue_condition is not None:
        runs = runs.filter(queue_condition)
    buckets = [{"completed": 0, "failed": 0} for _ in range(DASHBOARD_BUCKETS)]
    for started, state_type in runs.values_list("start_time", "state_type").iterator():
        index = math.floor((started - start).total_seconds() / width) if width > 0 else 0
        if 0 <= index < DASHBOARD_BUCKETS:
            buckets[index]["failed" if state_type in FAILED_STATE_TYPES else "completed"] += 1
    return buckets
