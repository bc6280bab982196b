"""Routes for what runs record: state history, logs, and tag concurrency limits."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.actions import filter_route, read_route, route
from orion_project.api.errors import RequestValidationError, RouteNotFound, pydantic_errors
from orion_project.api.fields import (
    SMALLINT_MAX,
    SMALLINT_MIN,
    DateTimeField,
    EmbeddedBodySerializer,
    IntField,
    ListField,
    StrField,
    StrictSerializer,
    UUIDField,
)
from orion_project.api.filtering import request_serializer
from orion_project.api.viewsets import OrionModelSerializer, OrionViewSet, parse_path_uuid
from orion_project.clock import parse_datetime
from runs_app.api.serializers import StateSerializer, state_json
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


class LogCreateSerializer(StrictSerializer):
    """One item of the ``POST /logs/`` array."""

    name = StrField(required=True, allow_null=False)
    # Stored in a ``smallint`` column.
    level = IntField(required=True, allow_null=False, min_value=SMALLINT_MIN, max_value=SMALLINT_MAX)
    message = StrField(required=True, allow_null=False)
    timestamp = DateTimeField(required=True, allow_null=False)
    flow_run_id = UUIDField()
    task_run_id = UUIDField()


LOG_LINE_TEXT = ("name", "message")
LOG_LINE_RUNS = ("flow_run_id", "task_run_id")
LOG_LINE_KEYS = frozenset(("level", "timestamp", *LOG_LINE_TEXT, *LOG_LINE_RUNS))


def plain_log_line(item: Any) -> dict[str, Any] | None:
    """What :class:`LogCreateSerializer` makes of a log line of the shape clients send
    (ASCII text without NUL, an integer level, a timestamp, run ids or ``null``), read
    without it; ``None`` for any other line, which the serializer reads and answers.

    A batch is up to hundreds of lines and the serializer's field machinery was most of
    a batch's CPU; ``tests/runs/test_log_lines.py`` holds this to the serializer's output.
    """
    if type(item) is not dict or not LOG_LINE_KEYS.issuperset(item):
        return None
    line: dict[str, Any] = {}
    for key in LOG_LINE_TEXT:
        text = item.get(key)
        if type(text) is not str or not text.isascii() or "\x00" in text:
            return None
        line[key] = text
    level = item.get("level")
    if type(level) is not int or not SMALLINT_MIN <= level <= SMALLINT_MAX:
        return None
    line["level"] = level
    timestamp = item.get("timestamp")
    if type(timestamp) is not str:
        return None
    try:
        line["timestamp"] = parse_datetime(timestamp)
        for key in LOG_LINE_RUNS:
            if key in item:
                run_id = item[key]
                line[key] = None if run_id is None else uuid.UUID(run_id)
    except (ValueError, TypeError, AttributeError):
        return None
    return line


class LogSerializer(OrionModelSerializer):
    """A stored log line."""

    class Meta:
        model = Log
        fields = ["id", "created", "updated", "name", "level", "message", "timestamp", "flow_run_id", "task_run_id"]


class ConcurrencyLimitCreateSerializer(StrictSerializer):
    """Body of ``POST /concurrency_limits/``."""

    tag = StrField(required=True, allow_null=False)
    concurrency_limit = IntField(required=True, allow_null=False, min_value=0)


class ConcurrencyLimitSerializer(OrionModelSerializer):
    """A tag concurrency limit with the task runs holding its slots."""

    class Meta:
        model = ConcurrencyLimit
        fields = ["id", "created", "updated", "tag", "concurrency_limit", "active_slots"]


class ResetConcurrencyLimitSerializer(EmbeddedBodySerializer):
    """Body of ``POST /concurrency_limits/tag/{tag}/reset`` (2.20)."""

    slot_override = ListField(child=UUIDField(allow_null=False))


class RunStateViewSet(OrionViewSet):
    """Read-only state history of one kind of run (``/flow_run_states/``, ``/task_run_states/``)."""

    serializer_class = StateSerializer
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


def _states_route(operation_id: str, description: str, run_field: str) -> Any:
    """``GET /x_run_states/?<run_field>=``: the states of one run (``RunStateViewSet._states``)."""
    run = OpenApiParameter(run_field, OpenApiTypes.UUID, required=True)

    @route(operation_id, description, parameters=[run], responses={200: StateSerializer(many=True)})
    def list(self: RunStateViewSet, request: Request) -> Response:
        return self._states(request)

    return list


class FlowRunStateViewSet(RunStateViewSet):
    """Flow-run state rows."""

    queryset = FlowRunState.objects.all()
    not_found_detail = "Flow run state not found"
    schema_tags = ("Flow Run States",)

    list = _states_route("read_flow_run_states", "Every state a flow run has had, oldest first.", "flow_run_id")

    retrieve = read_route("read_flow_run_state", "Get one flow-run state row by id.", StateSerializer)


class TaskRunStateViewSet(RunStateViewSet):
    """Task-run state rows."""

    queryset = TaskRunState.objects.all()
    run_field = "task_run_id"
    not_found_detail = "Task run state not found"
    schema_tags = ("Task Run States",)

    list = _states_route("read_task_run_states", "Every state a task run has had, oldest first.", "task_run_id")

    retrieve = read_route("read_task_run_state", "Get one task-run state row by id.", StateSerializer)


class LogViewSet(OrionViewSet):
    """Logs: bulk creation and filtering."""

    queryset = Log.objects.all()
    serializer_class = LogSerializer
    object_filter = LOG_FILTER
    sort_spec = LOG_SORT
    schema_tags = ("Logs",)

    @route("create_logs", request=LogCreateSerializer(many=True), responses={201: None})
    def create(self, request: Request) -> Response:
        """Insert a JSON array of log lines in one batch; answers 201 with `null`."""
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
            line = plain_log_line(item)
            if line is not None:
                logs.append(line)
                continue
            try:
                logs.append(dict(serializer.run_validation(item)))
            except Exception as error:
                detail = getattr(error, "detail", None)
                if detail is None:
                    raise
                errors.extend(pydantic_errors(detail, ("body", index)))
        if errors:
            raise RequestValidationError(errors, body)
        logs_create(logs=logs, workspace_id=self.workspace_id)
        return Response(None, status=status.HTTP_201_CREATED)

    filter = filter_route(
        "read_logs", "Query logs matching the filter, sorted (default TIMESTAMP_ASC) and paginated.", LogsFilterRequest
    )

    def matching(self, data: dict[str, Any]) -> QuerySet[Log]:
        return LOG_FILTER.apply(self.get_queryset(), data.get("logs"))


CONCURRENCY_LIMIT_NOT_FOUND = "Concurrency limit not found"


class ConcurrencyLimitViewSet(OrionViewSet):
    """Tag concurrency limits: upsert by tag, read and delete by id or tag, list, reset."""

    queryset = ConcurrencyLimit.objects.all()
    serializer_class = ConcurrencyLimitSerializer
    not_found_detail = CONCURRENCY_LIMIT_NOT_FOUND
    schema_tags = ("Concurrency Limits",)

    @route(
        "create_concurrency_limit",
        request=ConcurrencyLimitCreateSerializer,
        responses={200: ConcurrencyLimitSerializer},
    )
    def create(self, request: Request) -> Response:
        """Create the limit of a tag, or change the value of its existing limit (always 200)."""
        data = self.body(ConcurrencyLimitCreateSerializer)
        return self.read(concurrency_limit_upsert(**data, workspace_id=self.workspace_id))

    retrieve = read_route(
        "read_concurrency_limit", "Get a limit by id, with the task runs holding its slots.", ConcurrencyLimitSerializer
    )

    @route("delete_concurrency_limit", responses={200: None})
    def destroy(self, request: Request, id: str) -> Response:
        """Delete a limit by id (answers 200 with `null`, as the reference does)."""
        if not concurrency_limit_delete(limit_id=self.object_id(), workspace_id=self.workspace_id):
            raise RouteNotFound(CONCURRENCY_LIMIT_NOT_FOUND)
        return Response(None)

    filter = filter_route("read_concurrency_limits", "List limits ordered by tag.", PageRequest)

    def matching(self, data: dict[str, Any]) -> QuerySet[ConcurrencyLimit]:
        return self.get_queryset().order_by("tag")

    @route("read_concurrency_limit_by_tag", get=r"tag/(?P<tag>[^/]+)", responses={200: ConcurrencyLimitSerializer})
    def by_tag(self, request: Request, tag: str) -> Response:
        """Get the limit of a tag."""
        limit = self.get_queryset().filter(tag=tag).first()
        if limit is None:
            raise RouteNotFound(CONCURRENCY_LIMIT_NOT_FOUND)
        return self.read(limit)

    @route("delete_concurrency_limit_by_tag", responses={200: None})
    @by_tag.mapping.delete
    def delete_by_tag(self, request: Request, tag: str) -> Response:
        """Delete the limit of a tag (200 with `null`)."""
        if not concurrency_limit_delete(tag=tag, workspace_id=self.workspace_id):
            raise RouteNotFound(CONCURRENCY_LIMIT_NOT_FOUND)
        return Response(None)

    @route(
        "reset_concurrency_limit_by_tag",
        post=r"tag/(?P<tag>[^/]+)/reset",
        request=ResetConcurrencyLimitSerializer,
        responses={200: None},
    )
    def reset(self, request: Request, tag: str) -> Response:
        """Release every slot of a tag's limit, or replace them with `slot_override`."""
        data = self.body(ResetConcurrencyLimitSerializer)
        if not concurrency_limit_reset(
            tag=tag, workspace_id=self.workspace_id, slot_override=data.get("slot_override")
        ):
            raise RouteNotFound(CONCURRENCY_LIMIT_NOT_FOUND)
        return Response(None)
