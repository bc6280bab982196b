"""Flow-run routes (reference §A.1 "Flow Runs", §F, §G.2, §G.5-G.7)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.errors import RouteNotFound
from orion_project.api.fields import IntField, JSONObjectField, LenientBodySerializer
from orion_project.api.filtering import request_serializer
from orion_project.api.schema import ARRAY_OF_OBJECTS, NULLABLE_NUMBER
from orion_project.api.viewsets import OrionViewSet
from runs_app.api.common import (
    HistoryRequest,
    OrchestrationResultSerializer,
    api_version,
    history_response,
    orchestration_response,
    proposal_from_body,
    proposal_from_request,
)
from runs_app.api.serializers import (
    FlowRunCreateSerializer,
    FlowRunSerializer,
    FlowRunUpdateSerializer,
    HistoryIntervalSerializer,
    SetStateSerializer,
    graph_node_json,
)
from runs_app.filters import FLOW_RUN_FILTER, FLOW_RUN_SORT, RELATED_RUN_AND_WORK_FILTERS, RELATED_RUN_FILTERS
from runs_app.models import FlowRun
from runs_app.selectors.graph import flow_run_graph_task_runs
from runs_app.selectors.history import average_lateness, flow_run_history
from runs_app.selectors.runs import flow_run_count, flow_runs_matching
from runs_app.services.runs import (
    flow_run_create,
    flow_run_delete,
    flow_run_resume,
    flow_run_set_state,
    flow_run_update,
)

FLOW_RUN_NOT_FOUND = "Flow run not found"

FlowRunsFilterRequest = request_serializer(
    "FlowRunsFilterRequest", RELATED_RUN_AND_WORK_FILTERS, sort=FLOW_RUN_SORT, paginated=True
)
FlowRunsCountRequest = request_serializer("FlowRunsCountRequest", RELATED_RUN_AND_WORK_FILTERS)
UIFlowRunHistoryRequest = request_serializer(
    "UIFlowRunHistoryRequest",
    RELATED_RUN_FILTERS,
    sort=FLOW_RUN_SORT,
    sort_default="EXPECTED_START_TIME_DESC",
    extra={"limit": IntField(default=1000, min_value=0, max_value=1000), "offset": IntField(default=0, min_value=0)},
)


def flow_run_queryset(body: dict[str, Any]) -> QuerySet[FlowRun]:
    """Flow runs matching a validated query body, with what their response shows joined."""
    return flow_runs_matching(filters=body).for_response()


class ResumeFlowRunSerializer(LenientBodySerializer):
    """Body of ``POST /flow_runs/{id}/resume`` (2.20): the input a run paused for input waits for."""

    run_input = JSONObjectField()


class FlowRunViewSet(OrionViewSet):
    """Flow runs: create (idempotent), read, edit, delete, filter, count, history and the
    orchestration routes ``set_state`` and ``resume``."""

    queryset = FlowRun.objects.for_response()
    serializer_class = FlowRunSerializer
    not_found_detail = FLOW_RUN_NOT_FOUND
    object_filter = FLOW_RUN_FILTER
    sort_spec = FLOW_RUN_SORT
    schema_tags = ("Flow Runs",)

    def _matching(self, data: dict[str, Any]) -> QuerySet[FlowRun]:
        """The one place filter bodies become a queryset (filter and count share it)."""
        return flow_run_queryset(data)

    @extend_schema(
        operation_id="create_flow_run",
        summary="Create Flow Run",
        description=(
            "Create a flow run. Its initial state (PENDING if none is given) is written with "
            "force. With an `idempotency_key`, an existing run of the flow with that key is "
            "returned unchanged (200)."
        ),
        request=FlowRunCreateSerializer,
        responses={200: FlowRunSerializer, 201: FlowRunSerializer},
    )
    def create(self, request: Request) -> Response:
        data = self.body(FlowRunCreateSerializer)
        initial_state = proposal_from_body(data.pop("state", None))
        run, created = flow_run_create(data=data, initial_state=initial_state, api_version=api_version(request))
        return self.read(run, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="list_flow_runs",
        summary="List Flow Runs",
        description=(
            "Query flow runs with query-string filters named after the JSON filter (`name`, "
            "`state__type=RUNNING,FAILED`, `tags__all=a,b`, `expected_start_time__after=...`), "
            "plus `sort`, `limit`, `offset`."
        ),
        responses={200: FlowRunSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        return self.query_string_list(request)

    @extend_schema(
        operation_id="read_flow_run",
        summary="Read Flow Run",
        description="Get a flow run by id, with its current state.",
        responses={200: FlowRunSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return self.read(self.get_object())

    @extend_schema(
        operation_id="update_flow_run",
        summary="Update Flow Run",
        description="Update a flow run's name, version, parameters, policy, tags or infrastructure pid.",
        request=FlowRunUpdateSerializer,
        responses={204: None},
    )
    def partial_update(self, request: Request, id: str) -> Response:
        flow_run_id = self.object_id()
        changes = self.body(FlowRunUpdateSerializer)
        if not flow_run_update(flow_run_id=flow_run_id, changes=changes):
            raise RouteNotFound(FLOW_RUN_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="delete_flow_run",
        summary="Delete Flow Run",
        description="Delete a flow run with its states and task runs.",
        responses={204: None},
    )
    def destroy(self, request: Request, id: str) -> Response:
        if not flow_run_delete(flow_run_id=self.object_id()):
            raise RouteNotFound(FLOW_RUN_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="read_flow_runs",
        summary="Read Flow Runs",
        description="Query for flow runs matching the filters, sorted and paginated.",
        request=FlowRunsFilterRequest,
        responses={200: FlowRunSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        data = self.body(FlowRunsFilterRequest)
        return self.compiled_page(data, self._matching)

    @extend_schema(
        operation_id="count_flow_runs",
        summary="Count Flow Runs",
        description="Count flow runs matching the filters.",
        request=FlowRunsCountRequest,
        responses={200: OpenApiTypes.INT},
    )
    @action(detail=False, methods=["post"], url_path="count")
    def count(self, request: Request) -> Response:
        return Response(flow_run_count(filters=self.body(FlowRunsCountRequest)))

    @extend_schema(
        operation_id="flow_run_history",
        summary="Flow Run History",
        description=(
            "Flow runs bucketed by expected start time into intervals of "
            "`history_interval_seconds`, aggregated per state type and name."
        ),
        request=HistoryRequest,
        responses={200: HistoryIntervalSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="history")
    def history(self, request: Request) -> Response:
        return history_response(request, flow_run_history)

    @extend_schema(
        operation_id="average_flow_run_lateness",
        summary="Average Flow Run Lateness",
        description="Mean lateness (estimated start time delta) of the matching flow runs, in seconds (2.20).",
        request=FlowRunsCountRequest,
        responses={200: NULLABLE_NUMBER},
    )
    @action(detail=False, methods=["post"], url_path="lateness")
    def lateness(self, request: Request) -> Response:
        data = self.body(FlowRunsCountRequest)
        runs = flow_runs_matching(filters=data)
        return Response(average_lateness(runs, now=timezone.now()))

    @extend_schema(
        operation_id="set_flow_run_state",
        summary="Set Flow Run State",
        description=(
            "Propose a new state; the orchestration rules decide (ACCEPT, REJECT, ABORT or "
            "WAIT). 201 when a state was written, 200 otherwise."
        ),
        request=SetStateSerializer,
        responses={200: OrchestrationResultSerializer, 201: OrchestrationResultSerializer},
    )
    @action(detail=True, methods=["post"], url_path="set_state")
    def set_state(self, request: Request, id: str) -> Response:
        flow_run_id = self.object_id()
        proposal, force = proposal_from_request(request)
        result = flow_run_set_state(
            flow_run_id=flow_run_id, state=proposal, force=force, api_version=api_version(request)
        )
        return orchestration_response(result)

    @extend_schema(
        operation_id="resume_flow_run",
        summary="Resume Flow Run",
        description="Resume a paused flow run (RUNNING, or SCHEDULED 'Resuming' if it reschedules).",
        request=ResumeFlowRunSerializer,
        responses={200: OrchestrationResultSerializer, 201: OrchestrationResultSerializer},
    )
    @action(detail=True, methods=["post"], url_path="resume")
    def resume(self, request: Request, id: str) -> Response:
        flow_run_id = self.object_id()
        # The 2.7 client sends no body at all.
        has_body = request.content_type.startswith("application/json") and bool(request.body)
        data = self.body(ResumeFlowRunSerializer) if has_body else {}
        result = flow_run_resume(
            flow_run_id=flow_run_id, run_input=data.get("run_input"), api_version=api_version(request)
        )
        return orchestration_response(result)

    @extend_schema(
        operation_id="read_flow_run_graph",
        summary="Read Flow Run Graph",
        description="The task runs of a flow run with their upstream task-run dependencies.",
        responses={200: ARRAY_OF_OBJECTS},
    )
    @action(detail=True, methods=["get"], url_path="graph")
    def graph(self, request: Request, id: str) -> Response:
        now = timezone.now()
        task_runs = flow_run_graph_task_runs(self.object_id())
        return Response([graph_node_json(task_run, now) for task_run in task_runs])


class UIFlowRunViewSet(OrionViewSet):
    """``/ui/flow_runs``: compact rows for the UI's scatter plot."""

    queryset = FlowRun.objects.all()
    schema_tags = ("UI",)

    @extend_schema(
        operation_id="read_flow_run_history",
        summary="Read Flow Run History",
        description="Flow runs as `{id, state_type, timestamp, duration, lateness}` rows (limit ≤ 1000).",
        request=UIFlowRunHistoryRequest,
        responses={200: ARRAY_OF_OBJECTS},
    )
    @action(detail=False, methods=["post"], url_path="history")
    def history(self, request: Request) -> Response:
        data = self.body(UIFlowRunHistoryRequest)
        runs = flow_runs_matching(filters=data)
        runs = runs.order_by(*FLOW_RUN_SORT.order_by(data["sort"]))
        offset = data["offset"]
        now = timezone.now()
        rows = [
            {
                "id": run.id,
                "state_type": run.state_type,
                "timestamp": run.start_time or run.expected_start_time,
                "duration": run.estimated_run_time_at(now),
                "lateness": run.lateness_at(now),
            }
            for run in runs[offset : offset + data["limit"]]
        ]
        return Response(rows)
