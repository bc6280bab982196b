"""Deployment routes (reference §A.1 "Deployments", §G.3, and the 2.20 additions)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from flows_app import selectors
from flows_app.api.deployment_serializers import (
    DeploymentCreateSerializer,
    DeploymentFlowRunCreateSerializer,
    DeploymentScheduleCreateSerializer,
    DeploymentScheduleSerializer,
    DeploymentScheduleUpdateSerializer,
    DeploymentSerializer,
    DeploymentUpdateSerializer,
    ScheduleRunsSerializer,
)
from flows_app.api.work_serializers import WorkQueueSerializer
from flows_app.filters import (
    DEPLOYMENT_FILTER,
    DEPLOYMENT_SORT,
)
from flows_app.models import Deployment
from flows_app.services.deployments import (
    WorkPoolNotFoundError,
    deployment_create_flow_run,
    deployment_delete,
    deployment_schedule_delete,
    deployment_schedule_runs,
    deployment_schedule_update,
    deployment_schedules_add,
    deployment_set_paused,
    deployment_set_schedule_active,
    deployment_update,
    deployment_upsert,
    deployments_poll_scheduled_runs,
)
from orion_project.api.actions import count_route, delete_route, filter_route, list_route, route
from orion_project.api.errors import RouteNotFound
from orion_project.api.fields import DateTimeField, IntField, ListField, UUIDField
from orion_project.api.filtering import checked_limit, request_serializer, validate_body
from orion_project.api.viewsets import OrionViewSet, parse_path_uuid
from orion_project.exceptions import ObjectNotFoundError
from runs_app.api.common import api_version, proposal_from_body
from runs_app.api.serializers import FlowRunSerializer
from runs_app.filters import RELATED_RUN_AND_WORK_FILTERS
from runs_app.models import FlowRun

DEPLOYMENT_NOT_FOUND = "Deployment not found"
DeploymentsFilterRequest = request_serializer(
    "DeploymentsFilterRequest", RELATED_RUN_AND_WORK_FILTERS, sort=DEPLOYMENT_SORT, paginated=True
)
DeploymentsCountRequest = request_serializer("DeploymentsCountRequest", RELATED_RUN_AND_WORK_FILTERS)
DeploymentsScheduledRunsRequest = request_serializer(
    "DeploymentsScheduledRunsRequest",
    {},
    extra={
        "deployment_ids": ListField(child=UUIDField(allow_null=False), required=True, allow_null=False),
        "scheduled_before": DateTimeField(),
        "limit": IntField(),
    },
)


def with_response_joins(deployments: QuerySet[Deployment]) -> QuerySet[Deployment]:
    """``deployments`` with what their response shows joined (queue, pool, schedules)."""
    return deployments.select_related("work_queue__work_pool").prefetch_related("schedules")


def _flag_route(operation_id: str, description: str, setter: Callable[..., bool], **flag: bool) -> Any:
    """``POST /deployments/{id}/<operation_id>``: ``setter(workspace_id=, deployment_id=id,
    **flag)``; ``null``, or 404 for a deployment missing in the workspace."""

    def handler(self: OrionViewSet, request: Request, id: str) -> Response:
        if not setter(workspace_id=self.workspace_id, deployment_id=self.object_id(), **flag):
            raise RouteNotFound(DEPLOYMENT_NOT_FOUND)
        return Response(None)

    handler.__name__ = handler.__qualname__ = operation_id
    return route(operation_id, description, detail=True, post=operation_id, request=None, responses={200: None})(
        handler
    )


class DeploymentViewSet(OrionViewSet):
    """Deployments: upsert, read, update, delete, filter, count, runs and schedules."""

    queryset = with_response_joins(Deployment.objects.all())
    serializer_class = DeploymentSerializer
    not_found_detail = DEPLOYMENT_NOT_FOUND
    object_filter = DEPLOYMENT_FILTER
    sort_spec = DEPLOYMENT_SORT
    schema_tags = ("Deployments",)

    def matching(self, data: dict[str, Any]) -> QuerySet[Deployment]:
        """The one place filter bodies become a queryset (filter and count share it)."""
        return with_response_joins(selectors.deployments_matching(workspace_id=self.workspace_id, filters=data))

    def _deployment(self) -> Deployment:
        return self.get_object()  # type: ignore[no-any-return]

    @route(
        "create_deployment",
        request=DeploymentCreateSerializer,
        responses={200: DeploymentSerializer, 201: DeploymentSerializer},
    )
    def create(self, request: Request) -> Response:
        """Create a deployment, or overwrite every field of the one with the same flow and name
        (omitted fields revert to their defaults). Creates the named work queue if needed and
        drops the deployment's auto-scheduled runs that have not started."""
        data = self.body(DeploymentCreateSerializer)
        try:
            deployment, created = deployment_upsert(workspace_id=self.workspace_id, data=data)
        except WorkPoolNotFoundError as error:
            raise RouteNotFound(error.message) from None
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return self.read(self.get_queryset().get(pk=deployment.pk), code)

    list = list_route(
        "list_deployments",
        "Query deployments with query-string filters named after the JSON filter.",
        DeploymentSerializer(many=True),
    )

    @route("read_deployment", responses={200: DeploymentSerializer})
    def retrieve(self, request: Request, id: str) -> Response:
        """Get a deployment by id."""
        return self.read(self._deployment())

    @route("update_deployment", request=DeploymentUpdateSerializer, responses={204: None})
    def partial_update(self, request: Request, id: str) -> Response:
        """Update the fields sent; drops the deployment's auto-scheduled runs that have not started."""
        deployment_id = self.object_id()
        changes = self.body(DeploymentUpdateSerializer)
        try:
            found = deployment_update(workspace_id=self.workspace_id, deployment_id=deployment_id, changes=changes)
        except WorkPoolNotFoundError as error:
            raise RouteNotFound(error.message) from None
        if not found:
            raise RouteNotFound(DEPLOYMENT_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    destroy = delete_route(
        "delete_deployment",
        "Delete a deployment and its runs that are still scheduled.",
        deployment_delete,
    )

    filter = filter_route(
        "read_deployments", "Deployments matching the filters, sorted and paginated.", DeploymentsFilterRequest
    )

    count = count_route("count_deployments", "Count deployments matching the filters.", DeploymentsCountRequest)

    @route(
        "read_deployment_by_name",
        get=r"name/(?P<flow_name>[^/]+)/(?P<deployment_name>[^/]+)",
        responses={200: DeploymentSerializer},
    )
    def by_name(self, request: Request, flow_name: str, deployment_name: str) -> Response:
        """Get a deployment by its flow's name and its own name."""
        deployment = self.get_queryset().filter(flow__name=flow_name, name=deployment_name).first()
        if deployment is None:
            raise RouteNotFound(DEPLOYMENT_NOT_FOUND)
        return self.read(deployment)

    @route(
        "create_flow_run_from_deployment",
        detail=True,
        post="create_flow_run",
        request=DeploymentFlowRunCreateSerializer,
        responses={200: FlowRunSerializer, 201: FlowRunSerializer},
    )
    def create_flow_run(self, request: Request, id: str) -> Response:
        """Create a run of the deployment: parameters merged, tags united, work queue and infrastructure copied."""
        deployment = self._deployment()
        data = self.body(DeploymentFlowRunCreateSerializer)
        initial_state = proposal_from_body(data.pop("state", None))
        run, created = deployment_create_flow_run(
            workspace_id=self.workspace_id,
            deployment=deployment,
            data=data,
            initial_state=initial_state,
            api_version=api_version(request),
        )
        run = FlowRun.objects.for_response().get(workspace_id=self.workspace_id, pk=run.pk)
        return Response(FlowRunSerializer(run).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @route("schedule_deployment", detail=True, post="schedule", request=ScheduleRunsSerializer, responses={200: None})
    def schedule(self, request: Request, id: str) -> Response:
        """Create the deployment's next scheduled runs now (nothing if its schedule is inactive). Answers `null`."""
        deployment = Deployment.objects.filter(workspace_id=self.workspace_id, pk=self.object_id()).first()
        data = self.body(ScheduleRunsSerializer)
        if deployment is not None:
            min_time = data.get("min_time")
            deployment_schedule_runs(
                workspace_id=self.workspace_id,
                deployment=deployment,
                start_time=data.get("start_time"),
                end_time=data.get("end_time"),
                min_time=dt.timedelta(seconds=min_time) if min_time is not None else None,
                min_runs=data.get("min_runs"),
                max_runs=data.get("max_runs"),
            )
        return Response(None)

    set_schedule_active = _flag_route(
        "set_schedule_active",
        "Turn the deployment's schedule on; the scheduler creates its runs.",
        deployment_set_schedule_active,
        active=True,
    )
    set_schedule_inactive = _flag_route(
        "set_schedule_inactive",
        "Turn the deployment's schedule off and drop its pending auto-scheduled runs.",
        deployment_set_schedule_active,
        active=False,
    )
    pause_deployment = _flag_route("pause_deployment", "Pause a deployment (2.20).", deployment_set_paused, paused=True)
    resume_deployment = _flag_route(
        "resume_deployment",
        "Resume a paused deployment (2.20).",
        deployment_set_paused,
        paused=False,
    )

    @route(
        "work_queue_check_for_deployment",
        detail=True,
        get="work_queue_check",
        responses={200: WorkQueueSerializer(many=True)},
    )
    def work_queue_check(self, request: Request, id: str) -> Response:
        """Deprecated: legacy tag-filtered work queues that would pick up this deployment."""
        deployment_id = self.object_id()
        deployment = Deployment.objects.filter(workspace_id=self.workspace_id, pk=deployment_id).first()
        if deployment is None:
            raise ObjectNotFoundError(f"Deployment {deployment_id} not found")
        matching = selectors.legacy_work_queues_for_deployment(workspace_id=self.workspace_id, deployment=deployment)
        return Response(WorkQueueSerializer(matching, many=True).data)

    @route(
        "get_scheduled_flow_runs_for_deployments",
        post="get_scheduled_flow_runs",
        request=DeploymentsScheduledRunsRequest,
        responses={200: FlowRunSerializer(many=True)},
    )
    def get_scheduled_flow_runs(self, request: Request) -> Response:
        """Due SCHEDULED runs of the given deployments (2.20)."""
        data = self.body(DeploymentsScheduledRunsRequest)
        runs = deployments_poll_scheduled_runs(
            workspace_id=self.workspace_id,
            deployment_ids=data["deployment_ids"],
            scheduled_before=data.get("scheduled_before"),
            limit=checked_limit(data.get("limit")),
        )
        return Response(FlowRunSerializer(runs, many=True).data)

    @route(
        "read_deployment_schedules",
        detail=True,
        get="schedules",
        responses={200: DeploymentScheduleSerializer(many=True)},
    )
    def schedules(self, request: Request, id: str) -> Response:
        """The deployment's schedules (2.20)."""
        return Response(DeploymentScheduleSerializer(self._deployment().schedules.all(), many=True).data)

    @route(
        "create_deployment_schedules",
        request=DeploymentScheduleCreateSerializer(many=True),
        responses={201: DeploymentScheduleSerializer(many=True)},
    )
    @schedules.mapping.post
    def create_schedules(self, request: Request, id: str) -> Response:
        """Add schedules to a deployment (2.20): a JSON array of schedules."""
        deployment = self._deployment()
        body = request.data if isinstance(request.data, list) else [request.data]
        rows = [validate_body(DeploymentScheduleCreateSerializer, item) for item in body]
        created = deployment_schedules_add(workspace_id=self.workspace_id, deployment=deployment, rows=rows)
        return Response(DeploymentScheduleSerializer(created, many=True).data, status=status.HTTP_201_CREATED)

    @route(
        "update_deployment_schedule",
        detail=True,
        patch=r"schedules/(?P<schedule_id>[^/]+)",
        request=DeploymentScheduleUpdateSerializer,
        responses={204: None},
    )
    def update_schedule(self, request: Request, id: str, schedule_id: str) -> Response:
        """Update one schedule of a deployment (2.20)."""
        deployment = self._deployment()
        found = deployment_schedule_update(
            workspace_id=self.workspace_id,
            deployment_id=deployment.id,
            schedule_id=parse_path_uuid(schedule_id, "schedule_id"),
            changes=self.body(DeploymentScheduleUpdateSerializer),
        )
        if not found:
            raise RouteNotFound("Schedule not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("delete_deployment_schedule", responses={204: None})
    @update_schedule.mapping.delete
    def delete_schedule(self, request: Request, id: str, schedule_id: str) -> Response:
        """Delete one schedule of a deployment (2.20)."""
        deployment = self._deployment()
        found = deployment_schedule_delete(
            workspace_id=self.workspace_id,
            deployment_id=deployment.id,
            schedule_id=parse_path_uuid(schedule_id, "schedule_id"),
        )
        if not found:
            raise RouteNotFound("Schedule not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)
