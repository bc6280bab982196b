"""Reads of flows and deployments, combining filters across resources (reference §C.1).

Every read is of one workspace (``workspace_id``): the rows a filter, count, list or
poll may return are that workspace's only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from flows_app.filters import (
    DEPLOYMENT_FILTER,
    FLOW_FILTER,
    FLOW_SORT,
    NOTIFICATION_POLICY_FILTER,
    WORK_POOL_FILTER,
    WORK_QUEUE_FILTER,
    WORKER_FILTER,
)
from flows_app.models import Deployment, Flow, FlowRunNotificationPolicy, SavedSearch, Worker, WorkPool, WorkQueue
from orion_project.db import EveryRowCount
from orion_project.filtering import Condition, FilterBody, narrowed
from orion_project.prepared import PageByBody, ValueByBody
from runs_app.filters import RELATED_RUN_FILTERS
from runs_app.models import FlowRun
from runs_app.selectors.runs import compiled_count, flow_run_exists, work_queue_condition


def flows_matching(*, workspace_id: int, filters: FilterBody) -> QuerySet[Flow]:
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
    return narrowed(Flow.objects.filter(workspace_id=workspace_id), conditions)


@PageByBody
def _flow_page(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Flow]:
    offset = body.get("offset") or 0
    flows = flows_matching(workspace_id=workspace_id, filters=body).order_by(*FLOW_SORT.order_by(body.get("sort")))
    return flows[offset : offset + body["limit"]]


def flow_page(*, filters: Mapping[str, Any], limit: int, workspace_id: int) -> list[Flow]:
    """``POST /flows/filter``: a sorted page of the workspace's matching flows, the SQL
    compiled once per distinct body (every page of the dashboard and of a flow asks for
    its flows by the ids of the runs it shows). A page of no rows reads nothing."""
    if limit == 0:
        return []
    return _flow_page.rows({**filters, "limit": limit}, workspace_id=workspace_id)


def flow_count(*, filters: Mapping[str, Any], workspace_id: int) -> int:
    """``POST /flows/count``: the matching flows counted in one statement, compiled once
    per distinct body."""
    return compiled_count(_flow_count, filters, RELATED_RUN_FILTERS, workspace_id=workspace_id)


@ValueByBody
def _flow_count(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Any]:
    flows = flows_matching(workspace_id=workspace_id, filters=body).order_by()
    return flows.annotate(total=EveryRowCount()).values("total")


def deployments_matching(*, workspace_id: int, filters: FilterBody) -> QuerySet[Deployment]:
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
    return narrowed(Deployment.objects.filter(workspace_id=workspace_id), conditions)


def legacy_work_queues_for_deployment(*, workspace_id: int, deployment: Deployment) -> list[WorkQueue]:
    """Tag-filtered (pre-pool) work queues of the workspace that would pick up
    ``deployment``: every tag of the queue's legacy filter is on the deployment, and its
    deployment ids (if any) name it."""
    tags = set(deployment.tags or [])
    matching = []
    for queue in work_queues_with_pool(workspace_id=workspace_id).exclude(filter__isnull=True):
        legacy = queue.filter or {}
        queue_tags = set(legacy.get("tags") or [])
        deployment_ids = {str(value) for value in legacy.get("deployment_ids") or []}
        if queue_tags <= tags and (not deployment_ids or str(deployment.id) in deployment_ids):
            matching.append(queue)
    return matching


# ------------------------------------------------------------------ work pools and queues

# A work queue is healthy when it has no late runs and was polled this recently (reference).
QUEUE_HEALTH_MAX_SECONDS_SINCE_POLL = 60
# A worker counts as online while its last heartbeat is this recent.
WORKER_ONLINE_SECONDS = 90


# Work queues with their pool joined (the response names it): the class-level queryset
# of the queue routes, which the viewset narrows to the request's workspace.
WORK_QUEUES_WITH_POOL = WorkQueue.objects.select_related("work_pool")


def work_queues_with_pool(*, workspace_id: int) -> QuerySet[WorkQueue]:
    """The workspace's work queues with their pool joined."""
    return WORK_QUEUES_WITH_POOL.filter(workspace_id=workspace_id)


def work_queue_by_name(*, workspace_id: int, name: str, work_pool: WorkPool) -> WorkQueue | None:
    """The queue ``name`` of a pool of the workspace, or ``None``."""
    return work_queues_with_pool(workspace_id=workspace_id).filter(work_pool=work_pool, name=name).first()


def work_queues_matching(
    *, workspace_id: int, filters: FilterBody, work_pool: WorkPool | None = None
) -> QuerySet[WorkQueue]:
    """The workspace's queues matching the body's ``work_queues`` filter, optionally of one pool."""
    queues = work_queues_with_pool(workspace_id=workspace_id)
    if work_pool is not None:
        queues = queues.filter(work_pool=work_pool)
    return WORK_QUEUE_FILTER.apply(queues, (filters or {}).get("work_queues"))


def work_queue_status(*, workspace_id: int, queue: WorkQueue, now: dt.datetime) -> dict[str, object]:
    """The queue's health: no late runs and polled within the last minute (one count)."""
    late = FlowRun.objects.filter(workspace_id=workspace_id, work_queue=queue).late().count()
    polled = queue.last_polled is not None and now - queue.last_polled < dt.timedelta(
        seconds=QUEUE_HEALTH_MAX_SECONDS_SINCE_POLL
    )
    return {
        "healthy": late == 0 and polled,
        "late_runs_count": late,
        "last_polled": queue.last_polled,
        "health_check_policy": {
            "maximum_late_runs": 0,
            "maximum_seconds_since_last_polled": QUEUE_HEALTH_MAX_SECONDS_SINCE_POLL,
        },
    }


def work_pools_with_workers_online(*, workspace_id: int, now: dt.datetime) -> QuerySet[WorkPool]:
    """The workspace's work pools annotated with how many workers sent a heartbeat recently."""
    recent = now - dt.timedelta(seconds=WORKER_ONLINE_SECONDS)
    return WorkPool.objects.filter(workspace_id=workspace_id).annotate(
        online_workers=Count("workers", filter=Q(workers__last_heartbeat_time__gte=recent))
    )


def work_pools_matching(*, workspace_id: int, filters: FilterBody, now: dt.datetime) -> QuerySet[WorkPool]:
    pools = work_pools_with_workers_online(workspace_id=workspace_id, now=now)
    return WORK_POOL_FILTER.apply(pools, (filters or {}).get("work_pools"))


def workers_matching(*, workspace_id: int, work_pool: WorkPool, filters: FilterBody) -> QuerySet[Worker]:
    workers = Worker.objects.filter(workspace_id=workspace_id, work_pool=work_pool)
    return WORKER_FILTER.apply(workers, (filters or {}).get("workers"))


# ------------------------------------------------------- saved searches and notifications


def saved_searches(*, workspace_id: int) -> QuerySet[SavedSearch]:
    """The workspace's saved searches, by name."""
    return SavedSearch.objects.filter(workspace_id=workspace_id).order_by("name")


def notification_policies_matching(*, workspace_id: int, filters: FilterBody) -> QuerySet[FlowRunNotificationPolicy]:
    """The workspace's policies matching ``flow_run_notification_policy_filter`` (inactive
    ones by default)."""
    body = (filters or {}).get("flow_run_notification_policy_filter")
    policies = FlowRunNotificationPolicy.objects.filter(workspace_id=workspace_id)
    return NOTIFICATION_POLICY_FILTER.apply(policies, body)
