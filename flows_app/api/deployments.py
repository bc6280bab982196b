"""Deployment routes (reference §A.1 "Deployments", §G.3, and the 2.20 additions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
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


def deployments_with_queue() -> QuerySet[Deployment]:
    """Deployments with what their response shows joined (queue, pool, schedules)."""
    return Deployment.objects.select_related("work_queue__work_pool").prefetch_related("schedules")


class DeploymentViewSet(OrionViewSet):
    """Deployments: upsert, read, update, delete, filter, count, runs and schedules."""

    queryset = deployments_with_queue()
    serializer_class = DeploymentSerializer
    not_found_detail = DEPLOYMENT_NOT_FOUND
    object_filter = DEPLOYMENT_FILTER
    sort_spec = DEPLOYMENT_SORT
    schema_tags = ("Deployments",)

    def _matching(self, data: dict[str, Any]) -> QuerySet[Deployment]:
        """The one place filter bodies become a queryset (filter and count share it)."""
        matching = selectors.deployments_matching(filters=data)
        return matching.select_related("work_queue__work_pool").prefetch_related("schedules")

    def _deployment(self) -> Deployment:
        return self.get_object()  # type: ignore[no-any-return]

    @extend_schema(
        operation_id="create_deployment",
        summary="Create Deployment",
        description=(
            "Create a deployment, or overwrite every field of the one with the same flow and name "
            "(omitted fields revert to their defaults). Creates the named work queue if needed and "
            "drops the deployment's auto-scheduled runs that have not started."
        ),
        request=DeploymentCreateSerializer,
        responses={200: DeploymentSerializer, 201: DeploymentSerializer},
    )
    def create(self, request: Request) -> Response:
        data = self.body(DeploymentCreateSerializer)
        try:
            deployment, created = deployment_upsert(data=data)
        except WorkPoolNotFoundError as error:
            raise RouteNotFound(error.message) from None
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return self.read(deployments_with_queue().get(pk=deployment.pk), code)

    @extend_schema(
        operation_id="list_deployments",
        summary="List Deployments",
        description="Query deployments with query-string filters named after the JSON filter.",
        responses={200: DeploymentSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        return self.query_string_list(request)

    @extend_schema(
        operation_id="read_deployment",
        summary="Read Deployment",
        description="Get a deployment by id.",
        responses={200: DeploymentSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return self.read(self._deployment())

    @extend_schema(
        operation_id="update_deployment",
        summary="Update Deployment",
        description="Update the fields sent; drops the deployment's auto-scheduled runs that have not started.",
        request=DeploymentUpdateSerializer,
        responses={204: None},
    )
    def partial_update(self, request: Request, id: str) -> Response:
        deployment_id = self.object_id()
        changes = self.body(DeploymentUpdateSerializer)
        try:
            found = deployment_update(deployment_id=deployment_id, changes=changes)
        except WorkPoolNotFoundError as error:
            raise RouteNotFound(error.message) from None
        if not found:
            raise RouteNotFound(DEPLOYMENT_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="delete_deployment",
        summary="Delete Deployment",
        description="Delete a deployment and its runs that are still scheduled.",
        responses={204: None},
    )
    def destroy(self, request: Request, id: str) -> Response:
        if not deployment_delete(deployment_id=self.object_id()):
            raise RouteNotFound(DEPLOYMENT_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="read_deployments",
        summary="Read Deployments",
        description="Deployments matching the filters, sorted and paginated.",
        request=DeploymentsFilterRequest,
        responses={200: DeploymentSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        data = self.body(DeploymentsFilterRequest)
        return self.page(self._matching(data), data)

    @extend_schema(
        operation_id="count_deployments",
        summary="Count Deployments",
        description="Count deployments matching the filters.",
        request=DeploymentsCountRequest,
        responses={200: OpenApiTypes.INT},
    )
    @action(detail=False, methods=["post"], url_path="count")
    def count(self, request: Request) -> Response:
        return Response(self._matching(self.body(DeploymentsCountRequest)).count())

    @extend_schema(
        operation_id="read_deployment_by_name",
        summary="Read Deployment By Name",
        description="Get a deployment by its flow's name and its own name.",
        responses={200: DeploymentSerializer},
    )
    @action(detail=False, methods=["get"], url_path=r"name/(?P<flow_name>[^/]+)/(?P<deployment_name>[^/]+)")
    def by_name(self, request: Request, flow_name: str, deployment_name: str) -> Response:
        deployment = deployments_with_queue().filter(flow__name=flow_name, name=deployment_name).first()
        if deployment is None:
            raise RouteNotFound(DEPLOYMENT_NOT_FOUND)
        return self.read(deployment)

    @extend_schema(
        operation_id="create_flow_run_from_deployment",
        summary="Create Flow Run From Deployment",
        description="Create a run of the deployment: parameters merged, tags united, work queue and infrastructure copied.",
        request=DeploymentFlowRunCreateSerializer,
        responses={200: FlowRunSerializer, 201: FlowRunSerializer},
    )
    @action(detail=True, methods=["post"], url_path="create_flow_run")
    def create_flow_run(self, request: Request, id: str) -> Response:
        deployment = self._deployment()
        data = self.body(DeploymentFlowRunCreateSerializer)
        initial_state = proposal_from_body(data.pop("state", None))
        run, created = deployment_create_flow_run(
            deployment=deployment, data=data, initial_state=initial_state, api_version=api_version(request)
        )
        run = FlowRun.objects.for_response().get(pk=run.pk)
        return Response(FlowRunSerializer(run).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="schedule_deployment",
        summary="Schedule Deployment",
        description="Create the deployment's next scheduled runs now (nothing if its schedule is inactive). Answers `null`.",
        request=ScheduleRunsSerializer,
        responses={200: None},
    )
    @action(detail=True, methods=["post"], url_path="schedule")
    def schedule(self, request: Request, id: str) -> Response:
        deployment = Deployment.objects.filter(pk=self.object_id()).first()
        data = self.body(ScheduleRunsSerializer)
        if deployment is not None:
            min_time = data.get("min_time")
            deployment_schedule_runs(
                deployment=deployment,
                start_time=data.get("start_time"),
                end_time=data.get("end_time"),
                min_time=dt.timedelta(seconds=min_time) if min_time is not None else None,
                min_runs=data.get("min_runs"),
                max_runs=data.get("max_runs"),
            )
        return Response(None)

    def _flag(self, setter: Any, **kwargs: Any) -> Response:
        if not setter(deployment_id=self.object_id(), **kwargs):
            raise RouteNotFound(DEPLOYMENT_NOT_FOUND)
        return Response(None)

    @extend_schema(
        operation_id="set_schedule_active",
        summary="Set Schedule Active",
        description="Turn the deployment's schedule on; the scheduler creates its runs.",
        request=None,
        responses={200: None},
    )
    @action(detail=True, methods=["post"], url_path="set_schedule_active")
    def set_schedule_active(self, request: Request, id: str) -> Response:
        return self._flag(deployment_set_schedule_active, active=True)

    @extend_schema(
        operation_id="set_schedule_inactive",
        summary="Set Schedule Inactive",
        description="Turn the deployment's schedule off and drop its pending auto-scheduled runs.",
        request=None,
        responses={200: None},
    )
    @action(detail=True, methods=["post"], url_path="set_schedule_inactive")
    def set_schedule_inactive(self, request: Request, id: str) -> Response:
        return self._flag(deployment_set_schedule_active, active=False)

    @extend_schema(
        operation_id="pause_deployment",
        summary="Pause Deployment",
        description="Pause a deployment (2.20).",
        request=None,
        responses={200: None},
    )
    @action(detail=True, methods=["post"], url_path="pause_deployment")
    def pause_deployment(self, request: Request, id: str) -> Response:
        return self._flag(deployment_set_paused, paused=True)

    @extend_schema(
        operation_id="resume_deployment",
        summary="Resume Deployment",
        description="Resume a paused deployment (2.20).",
        request=None,
        responses={200: None},
    )
    @action(detail=True, methods=["post"], url_path="resume_deployment")
    def resume_deployment(self, request: Request, id: str) -> Response:
        return self._flag(deployment_set_paused, paused=False)

    @extend_schema(
        operation_id="work_queue_check_for_deployment",
        summary="Work Queue Check For Deployment",
        description="Deprecated: legacy tag-filtered work queues that would pick up this deployment.",
        responses={200: WorkQueueSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="work_queue_check")
    def work_queue_check(self, request: Request, id: str) -> Response:
        deployment_id = self.object_id()
        deployment = Deployment.objects.filter(pk=deployment_id).first()
        if deployment is None:
            raise ObjectNotFoundError(f"Deployment {deployment_id} not found")
        matching = selectors.legacy_work_queues_for_deployment(deployment)
        return Response(WorkQueueSerializer(matching, many=True).data)

    @extend_schema(
        operation_id="get_scheduled_flow_runs_for_deployments",
        summary="Get Scheduled Flow Runs For Deployments",
        description="Due SCHEDULED runs of the given deployments (2.20).",
        request=DeploymentsScheduledRunsRequest,
        responses={200: FlowRunSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="get_scheduled_flow_runs")
    def get_scheduled_flow_runs(self, request: Request) -> Response:
        data = self.body(DeploymentsScheduledRunsRequest)
        runs = deployments_poll_scheduled_runs(
            deployment_ids=data["deployment_ids"],
            scheduled_before=data.get("scheduled_before"),
            limit=checked_limit(data.get("limit")),
        )
        return Response(FlowRunSerializer(runs, many=True).data)

    @extend_schema(
        operation_id="read_deployment_schedules",
        summary="Read Deployment Schedules",
        description="The deployment's schedules (2.20).",
        responses={200: DeploymentScheduleSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="schedules")
    def schedules(self, request: Request, id: str) -> Response:
        return Response(DeploymentScheduleSerializer(self._deployment().schedules.all(), many=True).data)

    @extend_schema(
        operation_id="create_deployment_schedules",
        summary="Create Deployment Schedules",
        description="Add schedules to a deployment (2.20): a JSON array of schedules.",
        request=DeploymentScheduleCreateSerializer(many=True),
        responses={201: DeploymentScheduleSerializer(many=True)},
    )
    @schedules.mapping.post
    def create_schedules(self, request: Request, id: str) -> Response:
        deployment = self._deployment()
        body = request.data if isinstance(request.data, list) else [request.data]
        rows = [validate_body(DeploymentScheduleCreateSerializer, item) for item in body]
        created = deployment_schedules_add(deployment=deployment, rows=rows)
        return Response(DeploymentScheduleSerializer(created, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="update_deployment_schedule",
        summary="Update Deployment Schedule",
        description="Update one schedule of a deployment (2.20).",
        request=DeploymentScheduleUpdateSerializer,
        responses={204: None},
    )
    @action(detail=True, methods=["patch"], url_path=r"schedules/(?P<schedule_id>[^/]+)")
    def update_schedule(self, request: Request, id: str, schedule_id: str) -> Response:
        deployment = self._deployment()
        found = deployment_schedule_update(
            deployment_id=deployment.id,
            schedule_id=parse_path_uuid(schedule_id, "schedule_id"),
            changes=self.body(DeploymentScheduleUpdateSerializer),
        )
        if not found:
            raise RouteNotFound("Schedule not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="delete_deployment_schedule",
        summary="Delete Deployment Schedule",
        description="Delete one schedule of a deployment (2.20).",
        responses={204: None},
    )
    @update_schedule.mapping.delete
    def delete_schedule(self, request: Request, id: str, schedule_id: str) -> Response:
        deployment = self._deployment()
        found = deployment_schedule_delete(
            deployment_id=deployment.id, schedule_id=parse_path_uuid(schedule_id, "schedule_id")
        )
        if not found:
            raise RouteNotFound("Schedule not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)
