"""Flow-run routes (reference §A.1 "Flow Runs", §F, §G.2, §G.5-G.7)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.actions import (
    count_route,
    delete_route,
    filter_route,
    list_route,
    read_route,
    route,
    update_route,
)
from orion_project.api.fields import IntField, JSONObjectField, LenientBodySerializer
from orion_project.api.filtering import request_serializer
from orion_project.api.schema import ARRAY_OF_OBJECTS, NULLABLE_NUMBER
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
from runs_app.selectors.history import average_lateness, flow_run_history, flow_run_scatter
from runs_app.selectors.runs import flow_run_count, flow_run_page, flow_runs_matching
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

    @route(
        "create_flow_run", request=FlowRunCreateSerializer, responses={200: FlowRunSerializer, 201: FlowRunSerializer}
    )
    def create(self, request: Request) -> Response:
        """Create a flow run. Its initial state (PENDING if none is given) is written with
        force. With an `idempotency_key`, an existing run of the flow with that key is returned
        unchanged (200)."""
        data = self.body(FlowRunCreateSerializer)
        initial_state = proposal_from_body(data.pop("state", None))
        run, created = flow_run_create(
            workspace_id=self.workspace_id, data=data, initial_state=initial_state, api_version=api_version(request)
        )
        return self.read(run, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    list = list_route(
        "list_flow_runs",
        "Query flow runs with query-string filters named after the JSON filter (`name`, `state__type=RUNNING,FAILED`, `tags__all=a,b`, `expected_start_time__after=...`), plus `sort`, `limit`, `offset`.",
        FlowRunSerializer(many=True),
    )

    retrieve = read_route("read_flow_run", "Get a flow run by id, with its current state.", FlowRunSerializer)

    partial_update = update_route(
        "update_flow_run",
        "Update a flow run's name, version, parameters, policy, tags or infrastructure pid.",
        FlowRunUpdateSerializer,
        flow_run_update,
    )

    destroy = delete_route("delete_flow_run", "Delete a flow run with its states and task runs.", flow_run_delete)

    filter = filter_route(
        "read_flow_runs",
        "Query for flow runs matching the filters, sorted and paginated.",
        FlowRunsFilterRequest,
        page=flow_run_page,
    )

    count = count_route(
        "count_flow_runs", "Count flow runs matching the filters.", FlowRunsCountRequest, count=flow_run_count
    )

    @route(
        "flow_run_history",
        post="history",
        request=HistoryRequest,
        responses={200: HistoryIntervalSerializer(many=True)},
    )
    def history(self, request: Request) -> Response:
        """Flow runs bucketed by expected start time into intervals of
        `history_interval_seconds`, aggregated per state type and name."""
        return history_response(request, flow_run_history, workspace_id=self.workspace_id)

    @route("average_flow_run_lateness", post="lateness", request=FlowRunsCountRequest, responses={200: NULLABLE_NUMBER})
    def lateness(self, request: Request) -> Response:
        """Mean lateness (estimated start time delta) of the matching flow runs, in seconds (2.20)."""
        data = self.body(FlowRunsCountRequest)
        runs = flow_runs_matching(filters=data, workspace_id=self.workspace_id)
        return Response(average_lateness(runs, now=timezone.now()))

    @route(
        "set_flow_run_state", detail=True, post="set_state", request=SetStateSerializer, responses=ORCHESTRATION_ANSWERS
    )
    def set_state(self, request: Request, id: str) -> Response:
        """Propose a new state; the orchestration rules decide (ACCEPT, REJECT, ABORT or WAIT).
        201 when a state was written, 200 otherwise."""
        flow_run_id = self.object_id()
        proposal, force = proposal_from_request(request)
        result = flow_run_set_state(
            flow_run_id=flow_run_id,
            workspace_id=self.workspace_id,
            state=proposal,
            force=force,
            api_version=api_version(request),
        )
        return orchestration_response(result)

    @route(
        "resume_flow_run", detail=True, post="resume", request=ResumeFlowRunSerializer, responses=ORCHESTRATION_ANSWERS
    )
    def resume(self, request: Request, id: str) -> Response:
        """Resume a paused flow run (RUNNING, or SCHEDULED 'Resuming' if it reschedules)."""
        flow_run_id = self.object_id()
        # The 2.7 client sends no body at all.
        has_body = request.content_type.startswith("application/json") and bool(request.body)
        data = self.body(ResumeFlowRunSerializer) if has_body else {}
        result = flow_run_resume(
            flow_run_id=flow_run_id,
            workspace_id=self.workspace_id,
            run_input=data.get("run_input"),
            api_version=api_version(request),
        )
        return orchestration_response(result)

    @route("read_flow_run_graph", detail=True, get="graph", responses={200: ARRAY_OF_OBJECTS})
    def graph(self, request: Request, id: str) -> Response:
        """The task runs of a flow run with their upstream task-run dependencies."""
        now = timezone.now()
        task_runs = flow_run_graph_task_runs(self.object_id(), workspace_id=self.workspace_id)
        return Response([graph_node_json(task_run, now) for task_run in task_runs])


class UIFlowRunViewSet(OrionViewSet):
    """``/ui/flow_runs``: compact rows for the UI's scatter plot."""

    queryset = FlowRun.objects.all()
    schema_tags = ("UI",)

    @route("read_flow_run_history", post="history", request=UIFlowRunHistoryRequest, responses={200: ARRAY_OF_OBJECTS})
    def history(self, request: Request) -> Response:
        """Flow runs as `{id, state_type, timestamp, duration, lateness}` rows (limit ≤ 1000)."""
        data = self.body(UIFlowRunHistoryRequest)
        rows = flow_run_scatter(
            filters=data,
            sort=data["sort"],
            offset=data["offset"],
            limit=data["limit"],
            now=timezone.now(),
            workspace_id=self.workspace_id,
        )
        return Response(rows)
