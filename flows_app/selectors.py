"""Reads of flows and deployments, combining filters across resources (reference §C.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from flows_app.api.filters import DEPLOYMENT_FILTER, FLOW_FILTER
from flows_app.models import Deployment, Flow
from orion_project.api.filtering import Condition, combine
from runs_app.selectors import flow_run_exists, work_queue_condition

FilterBody = Mapping[str, Any] | None


def flows_matching(
    *,
    flows: FilterBody = None,
    flow_runs: FilterBody = None,
    task_runs: FilterBody = None,
    deployments: FilterBody = None,
) -> QuerySet[Flow]:
    """Flows matching ``flows`` that have a matching flow run (with a matching task run)
    and a matching deployment, for each of those filters that is given."""
    conditions: list[Condition] = [
        FLOW_FILTER.to_q(flows),
        flow_run_exists(link="flow_id", flow_runs=flow_runs, task_runs=task_runs),
    ]
    if deployments is not None:
        matching = DEPLOYMENT_FILTER.apply(Deployment.objects.filter(flow_id=OuterRef("pk")), deployments)
        conditions.append(Q(Exists(matching)))
    condition = combine(conditions, "and_")
    queryset = Flow.objects.all()
    return queryset if condition is None else queryset.filter(condition)


def deployments_matching(
    *,
    flows: FilterBody = None,
    flow_runs: FilterBody = None,
    task_runs: FilterBody = None,
    deployments: FilterBody = None,
    work_pools: FilterBody = None,
    work_pool_queues: FilterBody = None,
) -> QuerySet[Deployment]:
    """Deployments matching ``deployments`` whose flow matches ``flows`` and that have a
    matching flow run (with a matching task run), for each filter given."""
    conditions: list[Condition] = [
        DEPLOYMENT_FILTER.to_q(deployments),
        FLOW_FILTER.to_q(flows, "flow__"),
        flow_run_exists(link="deployment_id", flow_runs=flow_runs, task_runs=task_runs),
        work_queue_condition(work_pools, work_pool_queues, ""),
    ]
    condition = combine(conditions, "and_")
    queryset = Deployment.objects.all()
    return queryset if condition is None else queryset.filter(condition)
