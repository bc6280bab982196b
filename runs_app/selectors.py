"""Reads of flow runs and task runs, combining filters across resources (reference §C.1).

Filters on resources a run points to (its flow, its deployment, its flow run) become
joins through a column prefix; filters on resources that point at the run (its task
runs) become correlated ``EXISTS`` sub-queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from flows_app.api.filters import DEPLOYMENT_FILTER, FLOW_FILTER
from orion_project.api.filtering import Condition, combine
from runs_app.api.filters import FLOW_RUN_FILTER, TASK_RUN_FILTER
from runs_app.models import FlowRun, TaskRun

FilterBody = Mapping[str, Any] | None


def _deployment_condition(deployments: FilterBody, prefix: str) -> Condition:
    """Runs whose deployment matches; runs without a deployment never match."""
    if deployments is None:
        return None
    joined = Q(**{f"{prefix}deployment__isnull": False})
    return combine([joined, DEPLOYMENT_FILTER.to_q(deployments, f"{prefix}deployment__")], "and_")


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


def flow_runs_matching(
    *,
    flows: FilterBody = None,
    flow_runs: FilterBody = None,
    task_runs: FilterBody = None,
    deployments: FilterBody = None,
    work_pools: FilterBody = None,
    work_pool_queues: FilterBody = None,
) -> QuerySet[FlowRun]:
    """Flow runs matching every given filter (``POST /flow_runs/filter`` and ``/count``)."""
    conditions: list[Condition] = [
        FLOW_RUN_FILTER.to_q(flow_runs),
        FLOW_FILTER.to_q(flows, "flow__"),
        _deployment_condition(deployments, ""),
    ]
    if task_runs is not None:
        tasks = TASK_RUN_FILTER.apply(TaskRun.objects.filter(flow_run_id=OuterRef("pk")), task_runs)
        conditions.append(Q(Exists(tasks)))
    condition = combine(conditions, "and_")
    queryset = FlowRun.objects.all()
    return queryset if condition is None else queryset.filter(condition)


def task_runs_matching(
    *,
    flows: FilterBody = None,
    flow_runs: FilterBody = None,
    task_runs: FilterBody = None,
    deployments: FilterBody = None,
) -> QuerySet[TaskRun]:
    """Task runs matching every given filter; related filters apply to the task's flow run."""
    conditions: list[Condition] = [
        TASK_RUN_FILTER.to_q(task_runs),
        FLOW_RUN_FILTER.to_q(flow_runs, "flow_run__"),
        FLOW_FILTER.to_q(flows, "flow_run__flow__"),
        _deployment_condition(deployments, "flow_run__"),
    ]
    if flow_runs is not None or flows is not None:
        conditions.append(Q(flow_run__isnull=False))
    condition = combine(conditions, "and_")
    queryset = TaskRun.objects.all()
    return queryset if condition is None else queryset.filter(condition)
