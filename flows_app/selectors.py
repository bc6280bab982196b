"""Reads of flows and deployments, combining filters across resources (reference §C.1)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from flows_app.filters import DEPLOYMENT_FILTER, FLOW_FILTER
from flows_app.models import Deployment, Flow
from orion_project.filtering import Condition, FilterBody, combine
from runs_app.selectors import flow_run_exists, work_queue_condition


def flows_matching(*, filters: FilterBody) -> QuerySet[Flow]:
    """Flows matching ``flows`` that have a matching flow run (with a matching task run)
    and a matching deployment, for each of those keys the validated body gives."""
    body = filters or {}
    conditions: list[Condition] = [
        FLOW_FILTER.to_q(body.get("flows")),
        flow_run_exists(link="flow_id", flow_runs=body.get("flow_runs"), task_runs=body.get("task_runs")),
    ]
    if body.get("deployments") is not None:
        matching = DEPLOYMENT_FILTER.apply(Deployment.objects.filter(flow_id=OuterRef("pk")), body["deployments"])
        conditions.append(Q(Exists(matching)))
    condition = combine(conditions, "and_")
    queryset = Flow.objects.all()
    return queryset if condition is None else queryset.filter(condition)


def deployments_matching(*, filters: FilterBody) -> QuerySet[Deployment]:
    """Deployments matching ``deployments`` whose flow matches ``flows``, in a matching work
    pool/queue, and that have a matching flow run (with a matching task run), for each key
    the validated body gives."""
    body = filters or {}
    conditions: list[Condition] = [
        DEPLOYMENT_FILTER.to_q(body.get("deployments")),
        FLOW_FILTER.to_q(body.get("flows"), "flow__"),
        flow_run_exists(link="deployment_id", flow_runs=body.get("flow_runs"), task_runs=body.get("task_runs")),
        work_queue_condition(body.get("work_pools"), body.get("work_pool_queues"), ""),
    ]
    condition = combine(conditions, "and_")
    queryset = Deployment.objects.all()
    return queryset if condition is None else queryset.filter(condition)
