"""Filter and sort definitions of flows and deployments (reference §C.2, §D)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from flows_app.models import Deployment
from orion_project.api.fields import BoolField, UUIDField
from orion_project.api.filtering import (
    Condition,
    FieldFilter,
    ObjectFilter,
    SortSpec,
    all_,
    any_,
    array_is_null_,
    eq_,
    custom,
    like_,
)


def _has_deployment(column: str, is_null: bool) -> Condition:
    """2.20 ``FlowFilter.deployment.is_null_``: the flow has (``false``) or lacks a deployment."""
    exists = Exists(Deployment.objects.filter(flow_id=OuterRef(column)))
    return ~Q(exists) if is_null else Q(exists)


FLOW_FILTER = ObjectFilter(
    schema="FlowFilter",
    description="Filter for flows. Only flows matching all criteria will be returned.",
    fields=(
        FieldFilter("id", "FlowFilterId", "id", (any_(UUIDField),)),
        FieldFilter(
            "deployment",
            "FlowFilterDeployment",
            "id",
            (custom("is_null_", BoolField, _has_deployment, "If true, only flows without deployments."),),
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
        FieldFilter("id", "DeploymentFilterId", "id", (any_(UUIDField),)),
        FieldFilter("name", "DeploymentFilterName", "name", (any_(), like_())),
        FieldFilter("paused", "DeploymentFilterPaused", "paused", (eq_(),)),
        FieldFilter(
            "is_schedule_active",
            "DeploymentFilterIsScheduleActive",
            "is_schedule_active",
            (eq_(),),
        ),
        FieldFilter(
            "tags", "DeploymentFilterTags", "tags", (all_(), array_is_null_()), combinable=True
        ),
        FieldFilter(
            "work_queue_name", "DeploymentFilterWorkQueueName", "work_queue_name", (any_(),)
        ),
    ),
)

DEPLOYMENT_SORT = SortSpec(
    "DeploymentSort",
    {
        "CREATED_DESC": ("-created",),
        "UPDATED_DESC": ("-updated",),
        "NAME_ASC": ("name",),
        "NAME_DESC": ("-name",),
    },
    default="NAME_ASC",
)
