"""Filter and sort definitions of flow runs, task runs, logs (reference §C.2, §D) and
artifacts (``ArtifactFilter``, ``ArtifactCollectionFilter`` and their sorts).

Fields added by the 2.20 line (``idempotency_key``, ``parent_flow_run_id``,
``flow_run_id``) are accepted too, so both client lines can filter.
"""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce

from flows_app.filters import DEPLOYMENT_FILTER, FLOW_FILTER, WORK_POOL_FILTER, WORK_QUEUE_FILTER
from orion_project.filtering import (
    BOOL,
    UUID,
    Condition,
    FieldFilter,
    NestedFilter,
    ObjectFilter,
    SortSpec,
    after_,
    all_,
    any_,
    array_is_null_,
    before_,
    choice,
    custom,
    ge_,
    is_null_,
    le_,
    like_,
    not_any_,
)
from runs_app.models import FlowRun
from runs_app.states import StateType


def _run_state_filter(prefix: str) -> NestedFilter:
    """``state: {type: {any_}, name: {any_}}`` of flow runs and task runs."""
    return NestedFilter(
        "state",
        f"{prefix}FilterState",
        (
            FieldFilter("type", f"{prefix}FilterStateType", "state_type", (any_(choice(StateType.values)),)),
            FieldFilter("name", f"{prefix}FilterStateName", "state_name", (any_(),)),
        ),
    )


def _is_subflow_parent(column: str, exists: bool) -> Condition:
    """``subflow_runs.exists_``: the task run stands for a sub-flow run (or not) of its
    own workspace (``column`` is the task run's ``id``, its ``workspace_id`` beside it)."""
    workspace_column = f"{column.removesuffix('id')}workspace_id"
    subflows = Exists(
        FlowRun.objects.filter(parent_task_run_id=OuterRef(column), workspace_id=OuterRef(workspace_column))
    )
    return Q(subflows) if exists else ~Q(subflows)


FLOW_RUN_FILTER = ObjectFilter(
    schema="FlowRunFilter",
    description="Filter flow runs. Only flow runs matching all criteria will be returned.",
    fields=(
        FieldFilter("id", "FlowRunFilterId", "id", (any_(UUID), not_any_(UUID))),
        FieldFilter("name", "FlowRunFilterName", "name", (any_(), like_())),
        FieldFilter("tags", "FlowRunFilterTags", "tags", (all_(), array_is_null_()), combinable=True),
        FieldFilter(
            "deployment_id",
            "FlowRunFilterDeploymentId",
            "deployment_id",
            (any_(UUID), is_null_()),
            combinable=True,
        ),
        FieldFilter(
            "work_queue_name",
            "FlowRunFilterWorkQueueName",
            "work_queue_name",
            (any_(), is_null_()),
            combinable=True,
        ),
        _run_state_filter("FlowRun"),
        FieldFilter("flow_version", "FlowRunFilterFlowVersion", "flow_version", (any_(),)),
        FieldFilter("start_time", "FlowRunFilterStartTime", "start_time", (before_(), after_(), is_null_())),
        FieldFilter(
            "expected_start_time",
            "FlowRunFilterExpectedStartTime",
            "expected_start_time",
            (before_(), after_()),
        ),
        FieldFilter(
            "next_scheduled_start_time",
            "FlowRunFilterNextScheduledStartTime",
            "next_scheduled_start_time",
            (before_(), after_()),
        ),
        FieldFilter(
            "parent_flow_run_id",
            "FlowRunFilterParentFlowRunId",
            "parent_task_run__flow_run_id",
            (any_(UUID),),
            combinable=True,
        ),
        FieldFilter(
            "parent_task_run_id",
            "FlowRunFilterParentTaskRunId",
            "parent_task_run_id",
            (any_(UUID), is_null_()),
            combinable=True,
        ),
        FieldFilter(
            "idempotency_key",
            "FlowRunFilterIdempotencyKey",
            "idempotency_key",
            (any_(), not_any_()),
        ),
    ),
)

FLOW_RUN_SORT = SortSpec(
    "FlowRunSort",
    {
        "ID_DESC": ("-id",),
        "START_TIME_ASC": (Coalesce(F("start_time"), F("expected_start_time")).asc(),),
        "START_TIME_DESC": (Coalesce(F("start_time"), F("expected_start_time")).desc(),),
        "EXPECTED_START_TIME_ASC": ("expected_start_time",),
        "EXPECTED_START_TIME_DESC": ("-expected_start_time",),
        "NAME_ASC": ("name",),
        "NAME_DESC": ("-name",),
        "NEXT_SCHEDULED_START_TIME_ASC": ("next_scheduled_start_time",),
        "END_TIME_DESC": ("-end_time",),
    },
    default="ID_DESC",
)

TASK_RUN_FILTER = ObjectFilter(
    schema="TaskRunFilter",
    description="Filter task runs. Only task runs matching all criteria will be returned.",
    fields=(
        FieldFilter("id", "TaskRunFilterId", "id", (any_(UUID),)),
        FieldFilter("name", "TaskRunFilterName", "name", (any_(), like_())),
        FieldFilter("tags", "TaskRunFilterTags", "tags", (all_(), array_is_null_()), combinable=True),
        _run_state_filter("TaskRun"),
        FieldFilter("start_time", "TaskRunFilterStartTime", "start_time", (before_(), after_(), is_null_())),
        FieldFilter(
            "subflow_runs",
            "TaskRunFilterSubFlowRuns",
            "id",
            (custom("exists_", BOOL, _is_subflow_parent, "If true, only task runs that are sub-flow runs."),),
        ),
        FieldFilter(
            "flow_run_id",
            "TaskRunFilterFlowRunId",
            "flow_run_id",
            (any_(UUID), is_null_()),
            combinable=True,
        ),
    ),
)

# Task runs sort like flow runs, except by start time (reference §D).
TASK_RUN_SORT = SortSpec(
    "TaskRunSort",
    {key: order for key, order in FLOW_RUN_SORT.orders.items() if not key.startswith("START_TIME_")},
    default="ID_DESC",
)

LOG_FILTER = ObjectFilter(
    schema="LogFilter",
    description="Filter logs. Only logs matching all criteria will be returned.",
    fields=(
        FieldFilter("level", "LogFilterLevel", "level", (ge_(), le_())),
        FieldFilter("timestamp", "LogFilterTimestamp", "timestamp", (before_(), after_())),
        FieldFilter("flow_run_id", "LogFilterFlowRunId", "flow_run_id", (any_(UUID),)),
        FieldFilter("task_run_id", "LogFilterTaskRunId", "task_run_id", (any_(UUID),)),
    ),
)

LOG_SORT = SortSpec(
    "LogSort",
    {
        "TIMESTAMP_ASC": ("timestamp",),
        "TIMESTAMP_DESC": ("-timestamp",),
        "LEVEL_ASC": ("level",),
        "LEVEL_DESC": ("-level",),
        "FLOW_RUN_ID_ASC": ("flow_run_id",),
        "FLOW_RUN_ID_DESC": ("-flow_run_id",),
        "TASK_RUN_ID_ASC": ("task_run_id",),
        "TASK_RUN_ID_DESC": ("-task_run_id",),
    },
    default="TIMESTAMP_ASC",
)

# The filter keys of a run query body (reference §C.1 table) and the resource each filters:
# flow runs, task runs, flows and their history, lateness and UI routes accept these ...
RELATED_RUN_FILTERS = {
    "flows": FLOW_FILTER,
    "flow_runs": FLOW_RUN_FILTER,
    "task_runs": TASK_RUN_FILTER,
    "deployments": DEPLOYMENT_FILTER,
}
# ... and flow runs and deployments also by the work pool and queue they go to.
RELATED_RUN_AND_WORK_FILTERS = {
    **RELATED_RUN_FILTERS,
    "work_pools": WORK_POOL_FILTER,
    "work_pool_queues": WORK_QUEUE_FILTER,
}


# ------------------------------------------------------------------------------ artifacts


def _key_exists(column: str, exists: bool) -> Condition:
    """``key.exists_``: only artifacts with (``true``) or without (``false``) a key."""
    return Q(**{f"{column}__isnull": not exists})


def _artifact_filter(schema: str, id_key: str, id_column: str) -> ObjectFilter:
    """The two artifact filters differ only in their id field and schema names."""
    return ObjectFilter(
        schema=schema,
        description=f"Filter {'artifact collections' if 'Collection' in schema else 'artifacts'}.",
        fields=(
            FieldFilter(id_key, f"{schema}{'LatestId' if id_key == 'latest_id' else 'Id'}", id_column, (any_(UUID),)),
            FieldFilter(
                "key",
                f"{schema}Key",
                "key",
                (any_(), like_(), custom("exists_", BOOL, _key_exists, "Only artifacts with (or without) a key.")),
            ),
            FieldFilter("flow_run_id", f"{schema}FlowRunId", "flow_run_id", (any_(UUID),)),
            FieldFilter("task_run_id", f"{schema}TaskRunId", "task_run_id", (any_(UUID),)),
            FieldFilter("type", f"{schema}Type", "type", (any_(), not_any_())),
        ),
    )


ARTIFACT_FILTER = _artifact_filter("ArtifactFilter", "id", "id")
ARTIFACT_COLLECTION_FILTER = _artifact_filter("ArtifactCollectionFilter", "latest_id", "latest_id")

_ARTIFACT_ORDERS: dict[str, tuple[str, ...]] = {
    "CREATED_DESC": ("-created",),
    "UPDATED_DESC": ("-updated",),
    "ID_DESC": ("-id",),
    "KEY_DESC": ("-key",),
    "KEY_ASC": ("key",),
}
ARTIFACT_SORT = SortSpec("ArtifactSort", _ARTIFACT_ORDERS, default="ID_DESC")
ARTIFACT_COLLECTION_SORT = SortSpec("ArtifactCollectionSort", _ARTIFACT_ORDERS, default="ID_DESC")
