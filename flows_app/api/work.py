"""Work queue and work pool routes: what agents (2.7) and workers (2.20) poll (§G.4)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from flows_app import selectors
from flows_app.api.work_serializers import (
    WorkerSerializer,
    WorkPoolCreateSerializer,
    WorkPoolSerializer,
    WorkPoolUpdateSerializer,
    WorkQueueCreateSerializer,
    WorkQueueSerializer,
    WorkQueueUpdateSerializer,
)
from flows_app.filters import WORK_POOL_FILTER, WORK_QUEUE_FILTER, WORKER_FILTER
from flows_app.models import WorkPool, WorkQueue
from flows_app.services.work import (
    default_agent_pool,
    work_pool_create,
    work_pool_delete,
    work_pool_poll,
    work_pool_update,
    work_queue_create,
    work_queue_delete,
    work_queue_poll,
    work_queue_update,
    worker_delete,
    worker_heartbeat,
)
from orion_project.api.actions import count_route, delete_route, filter_route, read_route, route
from orion_project.api.errors import DetailError, RequestValidationError, RouteNotFound
from orion_project.api.fields import BoolField, DateTimeField, IntField, ListField, NameField, StrField, UUIDField
from orion_project.api.filtering import checked_limit, request_serializer
from orion_project.api.schema import ARRAY_OF_OBJECTS
from orion_project.api.viewsets import OrionViewSet
from orion_project.exceptions import ObjectNotFoundError
from runs_app.api.serializers import FlowRunSerializer

WORK_QUEUE_NOT_FOUND = "Work queue not found"
WORK_POOL_NOT_FOUND = "Work pool not found"

WorkQueuesFilterRequest = request_serializer(
    "WorkQueuesFilterRequest", {"work_queues": WORK_QUEUE_FILTER}, paginated=True
)
GetRunsRequest = request_serializer(
    "GetRunsRequest",
    {},
    extra={"scheduled_before": DateTimeField(), "agent_id": UUIDField(), "limit": IntField()},
)
WorkPoolsFilterRequest = request_serializer("WorkPoolsFilterRequest", {"work_pools": WORK_POOL_FILTER}, paginated=True)
WorkPoolsCountRequest = request_serializer("WorkPoolsCountRequest", {"work_pools": WORK_POOL_FILTER})
WorkersFilterRequest = request_serializer("WorkersFilterRequest", {"workers": WORKER_FILTER}, paginated=True)
HeartbeatRequest = request_serializer(
    "HeartbeatRequest",
    {},
    extra={"name": NameField(required=True, allow_null=False), "heartbeat_interval_seconds": IntField(min_value=0)},
)
ScheduledFlowRunsRequest = request_serializer(
    "ScheduledFlowRunsRequest",
    {},
    extra={
        "work_queue_names": ListField(child=StrField(allow_null=False)),
        "scheduled_before": DateTimeField(),
        "scheduled_after": DateTimeField(),
        "limit": IntField(),
    },
)


class WorkQueueViewSet(OrionViewSet):
    """Work queues (of ``default-agent-pool`` when created here) and the agent poll."""

    queryset = selectors.WORK_QUEUES_WITH_POOL
    serializer_class = WorkQueueSerializer
    not_found_detail = WORK_QUEUE_NOT_FOUND
    schema_tags = ("Work Queues",)

    def _queue_or_exception(self) -> WorkQueue:
        """The queue of the path, or the model layer's 404 (``exception_message``)."""
        queue_id = self.object_id()
        queue = self.get_queryset().filter(pk=queue_id).first()
        if queue is None:
            raise ObjectNotFoundError(f"Work queue {queue_id} not found")
        return queue

    @route("create_work_queue", request=WorkQueueCreateSerializer, responses={201: WorkQueueSerializer})
    def create(self, request: Request) -> Response:
        """Create a work queue in default-agent-pool (409 if the name is taken)."""
        queue = work_queue_create(workspace_id=self.workspace_id, **self.body(WorkQueueCreateSerializer))
        return self.read(self.get_queryset().get(pk=queue.pk), status.HTTP_201_CREATED)

    retrieve = read_route("read_work_queue", "Get a work queue by id.", WorkQueueSerializer)

    @route("update_work_queue", request=WorkQueueUpdateSerializer, responses={204: None})
    def partial_update(self, request: Request, id: str) -> Response:
        """Update a work queue (pause, limits, priority, name)."""
        queue_id = self.object_id()
        changes = self.body(WorkQueueUpdateSerializer)
        if not work_queue_update(workspace_id=self.workspace_id, queue_id=queue_id, changes=changes):
            raise RouteNotFound(WORK_QUEUE_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    destroy = delete_route("delete_work_queue", "Delete a work queue.", work_queue_delete)

    @route("read_work_queue_by_name", get=r"name/(?P<name>[^/]+)", responses={200: WorkQueueSerializer})
    def by_name(self, request: Request, name: str) -> Response:
        """Get a queue of default-agent-pool by name."""
        pool = default_agent_pool(workspace_id=self.workspace_id)
        queue = selectors.work_queue_by_name(workspace_id=self.workspace_id, name=name, work_pool=pool)
        if queue is None:
            raise RouteNotFound(WORK_QUEUE_NOT_FOUND)
        return self.read(queue)

    filter = filter_route("read_work_queues", "Work queues matching the filter, by name.", WorkQueuesFilterRequest)

    def matching(self, data: dict[str, Any]) -> QuerySet[Any]:
        return selectors.work_queues_matching(workspace_id=self.workspace_id, filters=data).order_by("name")

    @route(
        "read_work_queue_runs",
        detail=True,
        post="get_runs",
        request=GetRunsRequest,
        parameters=[OpenApiParameter("x-prefect-ui", OpenApiTypes.BOOL, OpenApiParameter.HEADER)],
        responses={200: FlowRunSerializer(many=True)},
    )
    def get_runs(self, request: Request, id: str) -> Response:
        """The agent poll: SCHEDULED runs of the queue due before `scheduled_before`, at most
        the queue's free slots; a paused queue returns nothing. Records the poll unless the
        `x-prefect-ui: true` header is sent."""
        queue = self._queue_or_exception()
        data = self.body(GetRunsRequest)
        limit = checked_limit(data.get("limit"))
        runs = work_queue_poll(
            workspace_id=self.workspace_id,
            queue=queue,
            limit=limit,
            scheduled_before=data.get("scheduled_before"),
            record_poll=not ui_header(request),
        )
        return Response(FlowRunSerializer(runs, many=True).data)

    @route("read_work_queue_status", detail=True, get="status", responses={200: OpenApiTypes.OBJECT})
    def status(self, request: Request, id: str) -> Response:
        """Healthy when the queue has no late runs and was polled in the last 60 seconds."""
        queue = self._queue_or_exception()
        return Response(selectors.work_queue_status(workspace_id=self.workspace_id, queue=queue, now=timezone.now()))


class WorkPoolViewSet(OrionViewSet):
    """Work pools, their queues and workers, and the worker poll (2.20 routes)."""

    queryset = WorkPool.objects.all()
    serializer_class = WorkPoolSerializer
    lookup_url_kwarg = "name"
    not_found_detail = WORK_POOL_NOT_FOUND
    schema_tags = ("Work Pools",)
    # Pools called "filter" or "count", queues called "filter", workers called "filter" or
    # "heartbeat" are reachable by name as in the reference (see OrionViewSet).
    names_shadowed_by_actions = {
        "filter": ("name", {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        "count": ("name", {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        "queues_filter": ("queue_name", {"get": "queue", "patch": "update_queue", "delete": "delete_queue"}),
        "workers": ("worker_name", {"delete": "delete_worker"}),
        "heartbeat": ("worker_name", {"delete": "delete_worker"}),
    }

    def get_queryset(self) -> QuerySet[WorkPool]:
        return selectors.work_pools_with_workers_online(workspace_id=self.workspace_id, now=timezone.now())

    def _pool(self, name: str) -> WorkPool:
        pool = self.get_queryset().filter(name=name).first()
        if pool is None:
            raise RouteNotFound(WORK_POOL_NOT_FOUND)
        return pool

    def _queue(self, pool: WorkPool, queue_name: str) -> WorkQueue:
        queue = selectors.work_queue_by_name(workspace_id=self.workspace_id, name=queue_name, work_pool=pool)
        if queue is None:
            raise RouteNotFound(WORK_QUEUE_NOT_FOUND)
        return queue

    @route("create_work_pool", request=WorkPoolCreateSerializer, responses={201: WorkPoolSerializer})
    def create(self, request: Request) -> Response:
        """Create a work pool with a `default` queue."""
        pool = work_pool_create(workspace_id=self.workspace_id, **self.body(WorkPoolCreateSerializer))
        return self.read(self._pool(pool.name), status.HTTP_201_CREATED)

    @route("read_work_pool", responses={200: WorkPoolSerializer})
    def retrieve(self, request: Request, name: str) -> Response:
        """Get a work pool by name."""
        return self.read(self._pool(name))

    @route("update_work_pool", request=WorkPoolUpdateSerializer, responses={204: None})
    def partial_update(self, request: Request, name: str) -> Response:
        """Update a work pool."""
        changes = self.body(WorkPoolUpdateSerializer)
        if not work_pool_update(workspace_id=self.workspace_id, name=name, changes=changes):
            raise RouteNotFound(WORK_POOL_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("delete_work_pool", responses={204: None})
    def destroy(self, request: Request, name: str) -> Response:
        """Delete a work pool with its queues and workers."""
        if not work_pool_delete(workspace_id=self.workspace_id, name=name):
            raise RouteNotFound(WORK_POOL_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    filter = filter_route("read_work_pools", "Work pools matching the filter, by name.", WorkPoolsFilterRequest)

    def matching(self, data: dict[str, Any]) -> QuerySet[WorkPool]:
        return selectors.work_pools_matching(workspace_id=self.workspace_id, filters=data, now=timezone.now()).order_by(
            "name"
        )

    count = count_route("count_work_pools", "Count work pools matching the filter.", WorkPoolsCountRequest)

    @route(
        "get_scheduled_flow_runs",
        detail=True,
        post="get_scheduled_flow_runs",
        request=ScheduledFlowRunsRequest,
        responses={200: ARRAY_OF_OBJECTS},
    )
    def get_scheduled_flow_runs(self, request: Request, name: str) -> Response:
        """The worker poll: runs due in the pool's queues (priority order), honouring pauses and limits."""
        pool = self._pool(name)
        data = self.body(ScheduledFlowRunsRequest)
        picked = work_pool_poll(
            workspace_id=self.workspace_id,
            work_pool=pool,
            work_queue_names=data.get("work_queue_names"),
            limit=checked_limit(data.get("limit")),
            scheduled_before=data.get("scheduled_before"),
            scheduled_after=data.get("scheduled_after"),
        )
        return Response(
            [
                {"work_pool_id": pool.id, "work_queue_id": queue.id, "flow_run": FlowRunSerializer(run).data}
                for queue, run in picked
            ]
        )

    @route(
        "create_work_pool_queue",
        summary="Create Work Queue",
        detail=True,
        post="queues",
        request=WorkQueueCreateSerializer,
        responses={201: WorkQueueSerializer},
    )
    def queues(self, request: Request, name: str) -> Response:
        """Create a queue in the pool."""
        pool = self._pool(name)
        queue = work_queue_create(
            workspace_id=self.workspace_id, work_pool=pool, **self.body(WorkQueueCreateSerializer)
        )
        queue = selectors.work_queues_with_pool(workspace_id=self.workspace_id).get(pk=queue.pk)
        return Response(WorkQueueSerializer(queue).data, status=status.HTTP_201_CREATED)

    @route(
        "read_work_pool_queues",
        summary="Read Work Queues",
        detail=True,
        post="queues/filter",
        request=WorkQueuesFilterRequest,
        responses={200: WorkQueueSerializer(many=True)},
    )
    def queues_filter(self, request: Request, name: str) -> Response:
        """The pool's queues matching the filter, by priority."""
        pool = self._pool(name)
        data = self.body(WorkQueuesFilterRequest)
        queues = selectors.work_queues_matching(workspace_id=self.workspace_id, filters=data, work_pool=pool)
        rows = queues.order_by("priority", "name")[data.get("offset") or 0 :][: checked_limit(data.get("limit"))]
        return Response(WorkQueueSerializer(rows, many=True).data)

    @route(
        "read_work_pool_queue",
        summary="Read Work Queue",
        detail=True,
        get=r"queues/(?P<queue_name>(?!filter$)[^/]+)",
        responses={200: WorkQueueSerializer},
    )
    def queue(self, request: Request, name: str, queue_name: str) -> Response:
        """A queue of the pool by name."""
        return Response(WorkQueueSerializer(self._queue(self._pool(name), queue_name)).data)

    @route(
        "update_work_pool_queue", summary="Update Work Queue", request=WorkQueueUpdateSerializer, responses={204: None}
    )
    @queue.mapping.patch
    def update_queue(self, request: Request, name: str, queue_name: str) -> Response:
        """Update a queue of the pool."""
        queue = self._queue(self._pool(name), queue_name)
        work_queue_update(
            workspace_id=self.workspace_id, queue_id=queue.id, changes=self.body(WorkQueueUpdateSerializer)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("delete_work_pool_queue", summary="Delete Work Queue", responses={204: None})
    @queue.mapping.delete
    def delete_queue(self, request: Request, name: str, queue_name: str) -> Response:
        """Delete a queue of the pool."""
        queue = self._queue(self._pool(name), queue_name)
        work_queue_delete(workspace_id=self.workspace_id, queue_id=queue.id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("worker_heartbeat", detail=True, post="workers/heartbeat", request=HeartbeatRequest, responses={204: None})
    def heartbeat(self, request: Request, name: str) -> Response:
        """Record a worker's heartbeat (204)."""
        pool = self._pool(name)
        data = self.body(HeartbeatRequest)
        worker_heartbeat(
            workspace_id=self.workspace_id,
            work_pool=pool,
            name=data["name"],
            heartbeat_interval_seconds=data.get("heartbeat_interval_seconds"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route(
        "read_workers",
        detail=True,
        post="workers/filter",
        request=WorkersFilterRequest,
        responses={200: WorkerSerializer(many=True)},
    )
    def workers(self, request: Request, name: str) -> Response:
        """The pool's workers, most recent heartbeat first."""
        pool = self._pool(name)
        data = self.body(WorkersFilterRequest)
        workers = selectors.workers_matching(workspace_id=self.workspace_id, work_pool=pool, filters=data)
        rows = workers.order_by("-last_heartbeat_time")[data.get("offset") or 0 :][: checked_limit(data.get("limit"))]
        return Response(WorkerSerializer(rows, many=True).data)

    @route(
        "delete_worker",
        detail=True,
        delete=r"workers/(?P<worker_name>(?!filter$|heartbeat$)[^/]+)",
        responses={204: None},
    )
    def delete_worker(self, request: Request, name: str, worker_name: str) -> Response:
        """Forget a worker of the pool."""
        if not worker_delete(workspace_id=self.workspace_id, work_pool=self._pool(name), name=worker_name):
            raise RouteNotFound("Worker not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExperimentalWorkPoolViewSet(OrionViewSet):
    """2.7.12's feature-flagged ``/experimental/work_pools`` routes, off as by default there:
    every one answers 404 ``Work pools are not enabled``. Left out of the OpenAPI document."""

    queryset = WorkPool.objects.none()
    lookup_url_kwarg = "name"
    schema = None

    def disabled(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise DetailError("Work pools are not enabled", status.HTTP_404_NOT_FOUND)

    create = retrieve = partial_update = destroy = disabled

    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        return self.disabled(request)

    @action(detail=True, methods=["get", "post", "patch", "delete"], url_path=r"(?P<rest>.+)")
    def nested(self, request: Request, name: str, rest: str) -> Response:
        return self.disabled(request)


def ui_header(request: Request) -> bool:
    """The ``x-prefect-ui`` header as a boolean (absent: false); any other value is a 422."""
    raw = request.headers.get("x-prefect-ui")
    if raw is None:
        return False
    try:
        return bool(BoolField(allow_null=False).run_validation(raw))
    except serializers.ValidationError:
        raise RequestValidationError(
            [
                {
                    "loc": ["header", "x-prefect-ui"],
                    "msg": "value could not be parsed to a boolean",
                    "type": "type_error.bool",
                }
            ],
            None,
        ) from None
