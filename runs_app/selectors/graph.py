"""The graph of a flow run: its task runs (2.7 ``/graph``) and its nodes and artifacts (2.20 ``/graph-v2``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import (
    Exists,
    OuterRef,
    QuerySet,
)

from orion_project.exceptions import ObjectNotFoundError
from runs_app.models import Artifact, ArtifactCollection, FlowRun, FlowRunState, TaskRun
from runs_app.states import StateType


def flow_run_graph_task_runs(flow_run_id: uuid.UUID, *, workspace_id: int) -> QuerySet[TaskRun]:
    """The task runs drawn in a flow run's graph (§G.6); 404 if the flow run is unknown
    in the workspace."""
    if not FlowRun.objects.filter(pk=flow_run_id, workspace_id=workspace_id).exists():
        raise ObjectNotFoundError(f"Flow run with id {flow_run_id} not found")
    task_runs = TaskRun.objects.filter(flow_run_id=flow_run_id, workspace_id=workspace_id)
    return task_runs.for_response().order_by("expected_start_time")


MAX_GRAPH_NODES = 10000
MAX_GRAPH_ARTIFACTS = 10000


class FlowRunGraphTooLarge(Exception):
    """More nodes than the graph may draw (400 ``detail``)."""


def _graph_artifacts(flow_run_id: uuid.UUID, *, workspace_id: int) -> dict[uuid.UUID | None, list[dict[str, Any]]]:
    """The flow run's non-result artifacts, oldest first, grouped by task run id."""
    latest = ArtifactCollection.objects.filter(workspace_id=workspace_id, key=OuterRef("key"), latest_id=OuterRef("pk"))
    rows = (
        Artifact.objects.filter(flow_run_id=flow_run_id, workspace_id=workspace_id)
        .exclude(type="result")
        .annotate(is_latest_row=Exists(latest))
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


def flow_run_graph_v2(*, flow_run_id: uuid.UUID, since: dt.datetime, workspace_id: int) -> dict[str, Any]:
    """The 2.20 UI's graph of a flow run: its task runs and sub-flow runs as nodes, edges from
    the task inputs, its artifacts and its state history.

    A task run shows when it has left PENDING and has a start (or expected start) time; a
    task run standing for a sub-flow run shows as that flow run. Nodes that ended before
    ``since`` are left out. Every row read is the workspace's: a flow run of another
    workspace is not found.
    """
    run = (
        FlowRun.objects.filter(pk=flow_run_id, workspace_id=workspace_id)
        .values("start_time", "expected_start_time", "end_time")
        .first()
    )
    if run is None:
        raise ObjectNotFoundError(f"Flow run {flow_run_id} not found")
    subflows = {
        subflow.parent_task_run_id: subflow
        for subflow in FlowRun.objects.filter(
            parent_task_run__flow_run_id=flow_run_id, workspace_id=workspace_id
        ).select_related("flow")
    }
    nodes: dict[uuid.UUID, dict[str, Any]] = {}
    upstream: dict[uuid.UUID, set[uuid.UUID]] = {}
    for task in (
        TaskRun.objects.filter(flow_run_id=flow_run_id, workspace_id=workspace_id)
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

    artifacts = _graph_artifacts(flow_run_id, workspace_id=workspace_id)
    shown = sorted(
        (node for node in nodes.values() if node["end_time"] is None or node["end_time"] >= since),
        key=lambda node: (node["start_time"], node["end_time"] is None, node["end_time"] or node["start_time"]),
    )
    if len(shown) > MAX_GRAPH_NODES:
        raise FlowRunGraphTooLarge(f"The graph of flow run {flow_run_id} has more than {MAX_GRAPH_NODES} nodes.")
    states = FlowRunState.objects.filter(flow_run_id=flow_run_id, workspace_id=workspace_id).order_by("timestamp")
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
