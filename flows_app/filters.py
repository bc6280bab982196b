"""Filter and sort definitions of flows and deployments (reference §C.2, §D)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from flows_app.models import Deployment
from orion_project.filtering import (
    BOOL,
    UUID,
    Condition,
    FieldFilter,
    ObjectFilter,
    SortSpec,
    after_,
    all_,
    any_,
    array_is_null_,
    before_,
    custom,
    eq_,
    like_,
    startswith_,
)


def _has_deployment(column: str, is_null: bool) -> Condition:
    """2.20 ``FlowFilter.deployment.is_null_``: the flow has (``false``) or lacks a deployment."""
    exists = Exists(Deployment.objects.filter(flow_id=OuterRef(column)))
    return ~Q(exists) if is_null else Q(exists)


FLOW_FILTER = ObjectFilter(
    schema="FlowFilter",
    description="Filter for flows. Only flows matching all criteria will be returned.",
    fields=(
        FieldFilter("id", "FlowFilterId", "id", (any_(UUID),)),
        FieldFilter(
            "deployment",
            "FlowFilterDeployment",
            "id",
            (custom("is_null_", BOOL, _has_deployment, "If true, only flows without deployments."),),
            combinable=True,
        ),
        FieldFilter("name", "FlowFilterName", "name", (any_(), like_())),
        FieldFilter("tags", "FlowFilterTags", "tags", (all_(), array_is_null_()), combinable=True),
    ),
)

FLOW_SORT = SortSpec(
    "FlowSort",
    {
        "CREATED_DESC": ("-created",),
        "UPDATED_DESC": ("-updated",),
        "NAME_ASC": ("name",),
        "NAME_DESC": ("-name",),
    },
    default="NAME_ASC",
)

DEPLOYMENT_FILTER = ObjectFilter(
    schema="DeploymentFilter",
    description="Filter for deployments. Only deployments matching all criteria will be returned.",
    fields=(
        FieldFilter("id", "DeploymentFilterId", "id", (any_(UUID),)),
        FieldFilter("name", "DeploymentFilterName", "name", (any_(), like_())),
        FieldFilter("paused", "DeploymentFilterPaused", "paused", (eq_(),)),
        FieldFilter(
            "is_schedule_active",
            "DeploymentFilterIsScheduleActive",
            "is_schedule_active",
            (eq_(),),
        ),
        FieldFilter("tags", "DeploymentFilterTags", "tags", (all_(), array_is_null_()), combinable=True),
        FieldFilter("work_queue_name", "DeploymentFilterWorkQueueName", "work_queue_name", (any_(),)),
    ),
)

# Deployments sort exactly as flows do (reference §D).
DEPLOYMENT_SORT = SortSpec("DeploymentSort", FLOW_SORT.orders, default="NAME_ASC")

WORK_QUEUE_FILTER = ObjectFilter(
    schema="WorkQueueFilter",
    description="Filter work queues. Only work queues matching all criteria will be returned.",
    fields=(
        FieldFilter("id", "WorkQueueFilterId", "id", (any_(UUID),)),
        FieldFilter("name", "WorkQueueFilterName", "name", (any_(), startswith_())),
    ),
)

WORK_POOL_FILTER = ObjectFilter(
    schema="WorkPoolFilter",
    description="Filter work pools. Only work pools matching all criteria will be returned.",
    fields=(
        FieldFilter("id", "WorkPoolFilterId", "id", (any_(UUID),)),
        FieldFilter("name", "WorkPoolFilterName", "name", (any_(),)),
        FieldFilter("type", "WorkPoolFilterType", "type", (any_(),)),
    ),
)

WORKER_FILTER = ObjectFilter(
    schema="WorkerFilter",
    description="Filter workers by their last heartbeat.",
    fields=(
        FieldFilter(
            "last_heartbeat_time",
            "WorkerFilterLastHeartbeatTime",
            "last_heartbeat_time",
            (before_(), after_()),
        ),
    ),
)

NOTIFICATION_POLICY_FILTER = ObjectFilter(
    schema="FlowRunNotificationPolicyFilter",
    description="Filter notification policies (without `is_active`, only inactive ones match).",
    combinable=False,
    defaults={"is_active": {"eq_": False}},
    fields=(FieldFilter("is_active", "FlowRunNotificationPolicyFilterIsActive", "is_active", (eq_(),)),),
)
