"""Routes for what runs record: state history, logs, and tag concurrency limits."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.errors import RequestValidationError, RouteNotFound, pydantic_errors
from orion_project.api.fields import EmbeddedBodySerializer, ListField, UUIDField
from orion_project.api.filtering import request_serializer
from orion_project.api.viewsets import OrionViewSet, parse_path_uuid
from runs_app.api.serializers import (
    ConcurrencyLimitCreateSerializer,
    ConcurrencyLimitSerializer,
    LogCreateSerializer,
    LogSerializer,
    StateSerializer,
    state_json,
)
from runs_app.filters import LOG_FILTER, LOG_SORT
from runs_app.models import ConcurrencyLimit, FlowRunState, Log, TaskRunState
from runs_app.services.concurrency_limits import (
    concurrency_limit_delete,
    concurrency_limit_reset,
    concurrency_limit_upsert,
)
from runs_app.services.runs import logs_create

LogsFilterRequest = request_serializer("LogsFilterRequest", {"logs": LOG_FILTER}, sort=LOG_SORT, paginated=True)
PageRequest = request_serializer("PageRequest", {}, paginated=True)


class ResetConcurrencyLimitSerializer(EmbeddedBodySerializer):
    """Body of ``POST /concurrency_limits/tag/{tag}/reset`` (2.20)."""

    slot_override = ListField(child=UUIDField(allow_null=False))


class RunStateViewSet(OrionViewSet):
    """Read-only state history of one kind of run (``/flow_run_states/``, ``/task_run_states/``)."""

    run_field = "flow_run_id"
    schema_tags: tuple[str, ...] = ()

    def _states(self, request: Request) -> Response:
        raw = request.query_params.get(self.run_field)
        if raw is None:
            raise RequestValidationError(
                [{"loc": ["query", self.run_field], "msg": "field required", "type": "value_error.missing"}]
            )
        run_id = parse_path_uuid(raw, self.run_field)
        states = self.get_queryset().filter(**{self.run_field: run_id}).order_by("timestamp")
        return Response([state_json(state) for state in states])

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(state_json(self.get_object()))


class FlowRunStateViewSet(RunStateViewSet):
    """Flow-run state rows."""

    queryset = FlowRunState.objects.all()
    not_found_detail = "Flow run state not found"
    schema_tags = ("Flow Run States",)

    @extend_schema(
        operation_id="read_flow_run_states",
        summary="Read Flow Run States",
        description="Every state a flow run has had, oldest first.",
        parameters=[OpenApiParameter("flow_run_id", OpenApiTypes.UUID, required=True)],
        responses={200: StateSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        return self._states(request)

    @extend_schema(
        operation_id="read_flow_run_state",
        summary="Read Flow Run State",
        description="Get one flow-run state row by id.",
        responses={200: StateSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return super().retrieve(request, id)


class TaskRunStateViewSet(RunStateViewSet):
    """Task-run state rows."""

    queryset = TaskRunState.objects.all()
    run_field = "task_run_id"
    not_found_detail = "Task run state not found"
    schema_tags = ("Task Run States",)

    @extend_schema(
        operation_id="read_task_run_states",
        summary="Read Task Run States",
        description="Every state a task run has had, oldest first.",
        parameters=[OpenApiParameter("task_run_id", OpenApiTypes.UUID, required=True)],
        responses={200: StateSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        return self._states(request)

    @extend_schema(
        operation_id="read_task_run_state",
        summary="Read Task Run State",
        description="Get one task-run state row by id.",
        responses={200: StateSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return super().retrieve(request, id)


class LogViewSet(OrionViewSet):
    """Logs: bulk creation and filtering."""

    queryset = Log.objects.all()
    serializer_class = LogSerializer
    object_filter = LOG_FILTER
    sort_spec = LOG_SORT
    schema_tags = ("Logs",)

    @extend_schema(
        operation_id="create_logs",
        summary="Create Logs",
        description="Insert a JSON array of log lines in one batch; answers 201 with `null`.",
        request=LogCreateSerializer(many=True),
        responses={201: None},
    )
    def create(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, list):
            raise RequestValidationError(
                [{"loc": ["body"], "msg": "value is not a valid list", "type": "type_error.list"}], body
            )
        maximum = settings.ORION_MAX_LOG_BATCH
        if len(body) > maximum:
            raise RequestValidationError(
                [
                    {
                        "loc": ["body"],
                        "msg": f"ensure this value has at most {maximum} items",
                        "type": "value_error.list.max_items",
                        "ctx": {"limit_value": maximum},
                    }
                ],
                None,
            )
        serializer = LogCreateSerializer()
        logs: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(body):
            try:
                logs.append(dict(serializer.run_validation(item)))
            except Exception as error:
                detail = getattr(error, "detail", None)
                if detail is None:
                    raise
                errors.extend(pydantic_errors(detail, ("body", index)))
        if errors:
            raise RequestValidationError(errors, body)
        logs_create(logs=logs)
        return Response(None, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="read_logs",
        summary="Read Logs",
        description="Query logs matching the filter, sorted (default TIMESTAMP_ASC) and paginated.",
        request=LogsFilterRequest,
        responses={200: LogSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        data = self.body(LogsFilterRequest)
        return self.page(LOG_FILTER.apply(Log.objects.all(), data.get("logs")), data)


CONCURRENCY_LIMIT_NOT_FOUND = "Concurrency limit not found"


class ConcurrencyLimitViewSet(OrionViewSet):
    """Tag concurrency limits: upsert by tag, read and delete by id or tag, list, reset."""

    queryset = ConcurrencyLimit.objects.all()
    serializer_class = ConcurrencyLimitSerializer
    not_found_detail = CONCURRENCY_LIMIT_NOT_FOUND
    schema_tags = ("Concurrency Limits",)

    @extend_schema(
        operation_id="create_concurrency_limit",
        summary="Create Concurrency Limit",
        description="Create the limit of a tag, or change the value of its existing limit (always 200).",
        request=ConcurrencyLimitCreateSerializer,
        responses={200: ConcurrencyLimitSerializer},
    )
    def create(self, request: Request) -> Response:
        data = self.body(ConcurrencyLimitCreateSerializer)
        return self.read(concurrency_limit_upsert(**data))

    @extend_schema(
        operation_id="read_concurrency_limit",
        summary="Read Concurrency Limit",
        description="Get a limit by id, with the task runs holding its slots.",
        responses={200: ConcurrencyLimitSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return self.read(self.get_object())

    @extend_schema(
        operation_id="delete_concurrency_limit",
        summary="Delete Concurrency Limit",
        description="Delete a limit by id (answers 200 with `null`, as the reference does).",
        responses={200: None},
    )
    def destroy(self, request: Request, id: str) -> Response:
        if not concurrency_limit_delete(limit_id=self.object_id()):
            raise RouteNotFound(CONCURRENCY_LIMIT_NOT_FOUND)
        return Response(None)

    @extend_schema(
        operation_id="read_concurrency_limits",
        summary="Read Concurrency Limits",
        description="List limits ordered by tag.",
        request=PageRequest,
        responses={200: ConcurrencyLimitSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        data = self.body(PageRequest)
        return self.page(ConcurrencyLimit.objects.order_by("tag"), data)

    @extend_schema(
        operation_id="read_concurrency_limit_by_tag",
        summary="Read Concurrency Limit By Tag",
        description="Get the limit of a tag.",
        responses={200: ConcurrencyLimitSerializer},
    )
    @action(detail=False, methods=["get"], url_path=r"tag/(?P<tag>[^/]+)")
    def by_tag(self, request: Request, tag: str) -> Response:
        limit = ConcurrencyLimit.objects.filter(tag=tag).first()
        if limit is None:
            raise RouteNotFound(CONCURRENCY_LIMIT_NOT_FOUND)
        return self.read(limit)

    @extend_schema(
        operation_id="delete_concurrency_limit_by_tag",
        summary="Delete Concurrency Limit By Tag",
        description="Delete the limit of a tag (200 with `null`).",
        responses={200: None},
    )
    @by_tag.mapping.delete
    def delete_by_tag(self, request: Request, tag: str) -> Response:
        if not concurrency_limit_delete(tag=tag):
            raise RouteNotFound(CONCURRENCY_LIMIT_NOT_FOUND)
        return Response(None)

    @extend_schema(
        operation_id="reset_concurrency_limit_by_tag",
        summary="Reset Concurrency Limit By Tag",
        description="Release every slot of a tag's limit, or replace them with `slot_override`.",
        request=ResetConcurrencyLimitSerializer,
        responses={200: None},
    )
    @action(detail=False, methods=["post"], url_path=r"tag/(?P<tag>[^/]+)/reset")
    def reset(self, request: Request, tag: str) -> Response:
        data = self.body(ResetConcurrencyLimitSerializer)
        if not concurrency_limit_reset(tag=tag, slot_override=data.get("slot_override")):
            raise RouteNotFound(CONCURRENCY_LIMIT_NOT_FOUND)
        return Response(None)
