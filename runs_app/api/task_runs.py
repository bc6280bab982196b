"""Task-run routes (reference §A.1 "Task Runs", §F.4) and the 2.20 UI dashboard's task-run
counts (``/ui/task_runs/dashboard/counts``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from flows_app.filters import WORK_POOL_FILTER, WORK_QUEUE_FILTER
from orion_project.api.actions import (
    count_route,
    delete_route,
    filter_route,
    list_route,
    read_route,
    route,
    update_route,
)
from orion_project.api.errors import DetailError
from orion_project.api.filtering import filter_serializer, request_serializer
from orion_project.api.viewsets import OrionViewSet
from runs_app.api.common import (
    ORCHESTRATION_ANSWERS,
    HistoryRequest,
    api_version,
    history_response,
    orchestration_response,
    proposal_from_body,
    proposal_from_request,
)
from runs_app.api.serializers import (
    HistoryIntervalSerializer,
    SetStateSerializer,
    TaskRunCreateSerializer,
    TaskRunSerializer,
    TaskRunUpdateSerializer,
)
from runs_app.filters import RELATED_RUN_FILTERS, TASK_RUN_FILTER, TASK_RUN_SORT
from runs_app.models import TaskRun
from runs_app.selectors.history import count_by_state_type, dashboard_task_run_counts, task_run_history
from runs_app.selectors.runs import task_run_count, task_run_page, task_runs_matching
from runs_app.services.runs import task_run_create, task_run_delete, task_run_set_state, task_run_update

TASK_RUN_NOT_FOUND = "Task not found"

TaskRunsFilterRequest = request_serializer(
    "TaskRunsFilterRequest", RELATED_RUN_FILTERS, sort=TASK_RUN_SORT, paginated=True
)
TaskRunsCountRequest = request_serializer("TaskRunsCountRequest", RELATED_RUN_FILTERS)


class TaskRunViewSet(OrionViewSet):
    """Task runs: create (idempotent on flow run + task key + dynamic key), read, rename,
    delete, filter, count, history and ``set_state``."""

    queryset = TaskRun.objects.for_response()
    serializer_class = TaskRunSerializer
    not_found_detail = TASK_RUN_NOT_FOUND
    object_filter = TASK_RUN_FILTER
    sort_spec = TASK_RUN_SORT
    schema_tags = ("Task Runs",)

    @route(
        "create_task_run", request=TaskRunCreateSerializer, responses={200: TaskRunSerializer, 201: TaskRunSerializer}
    )
    def create(self, request: Request) -> Response:
        """Create a task run (initial state PENDING unless given, written with force), or return
        the existing run with the same flow run, task key and dynamic key (200)."""
        data = self.body(TaskRunCreateSerializer)
        initial_state = proposal_from_body(data.pop("state", None))
        run, created = task_run_create(
            workspace_id=self.workspace_id, data=data, initial_state=initial_state, api_version=api_version(request)
        )
        return self.read(run, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    list = list_route(
        "list_task_runs",
        "Query task runs with query-string filters named after the JSON filter.",
        TaskRunSerializer(many=True),
    )

    retrieve = read_route("read_task_run", "Get a task run by id, with its current state.", TaskRunSerializer)

    partial_update = update_route(
        "update_task_run",
        "Rename a task run (the only writable field).",
        TaskRunUpdateSerializer,
        task_run_update,
    )

    destroy = delete_route("delete_task_run", "Delete a task run with its states.", task_run_delete)

    filter = filter_route(
        "read_task_runs",
        "Query for task runs matching the filters, sorted and paginated.",
        TaskRunsFilterRequest,
        page=task_run_page,
    )

    count = count_route(
        "count_task_runs", "Count task runs matching the filters.", TaskRunsCountRequest, count=task_run_count
    )

    def matching(self, data: dict[str, Any]) -> QuerySet[TaskRun]:
        return task_runs_matching(filters=data, workspace_id=self.workspace_id)

    @route(
        "task_run_history",
        post="history",
        request=HistoryRequest,
        responses={200: HistoryIntervalSerializer(many=True)},
    )
    def history(self, request: Request) -> Response:
        """Task runs bucketed by expected start time, aggregated per state."""
        return history_response(request, task_run_history, workspace_id=self.workspace_id)

    @route(
        "set_task_run_state", detail=True, post="set_state", request=SetStateSerializer, responses=ORCHESTRATION_ANSWERS
    )
    def set_state(self, request: Request, id: str) -> Response:
        """Propose a new task-run state; the task orchestration rules decide."""
        task_run_id = self.object_id()
        proposal, force = proposal_from_request(request)
        result = task_run_set_state(
            task_run_id=task_run_id,
            workspace_id=self.workspace_id,
            state=proposal,
            force=force,
            api_version=api_version(request),
        )
        return orchestration_response(result)


DASHBOARD_FILTERS = {**RELATED_RUN_FILTERS, "work_pools": WORK_POOL_FILTER, "work_queues": WORK_QUEUE_FILTER}
DashboardCountsRequest = request_serializer(
    "DashboardTaskRunCountsRequest",
    DASHBOARD_FILTERS,
    extra={"task_runs": filter_serializer(TASK_RUN_FILTER, required=True, allow_null=False)},
)


class UITaskRunViewSet(OrionViewSet):
    """``/ui/task_runs``: task-run counts for the UI and the 2.20 dashboard's task-run bars."""

    queryset = TaskRun.objects.all()
    schema_tags = ("UI",)

    @route(
        "read_task_run_counts_by_state",
        post="count",
        request=TaskRunsCountRequest,
        responses={200: OpenApiTypes.OBJECT},
    )
    def count(self, request: Request) -> Response:
        """How many matching task runs are in each state type."""
        data = self.body(TaskRunsCountRequest)
        runs = task_runs_matching(filters=data, workspace_id=self.workspace_id)
        return Response(count_by_state_type(runs))

    @route(
        "read_dashboard_task_run_counts",
        post="dashboard/counts",
        request=DashboardCountsRequest,
        responses={200: OpenApiTypes.OBJECT},
    )
    def dashboard_counts(self, request: Request) -> Response:
        """Finished task runs (completed, failed) in 20 time buckets from `task_runs.start_time.after_`."""
        data = self.body(DashboardCountsRequest)
        if (data["task_runs"].get("start_time") or {}).get("after_") is None:
            raise DetailError("task_runs.start_time.after_ is required", status.HTTP_422_UNPROCESSABLE_ENTITY)
        counts = dashboard_task_run_counts(filters=data, now=timezone.now(), workspace_id=self.workspace_id)
        return Response(counts)
