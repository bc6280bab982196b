"""Request and response shapes of work pools, work queues and workers (reference §B.1, 2.20)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from flows_app.models import Worker, WorkPool, WorkQueue
from orion_project.api.fields import (
    BoolField,
    DateTimeField,
    IntField,
    JSONObjectField,
    ListField,
    NameField,
    StrField,
    StrictSerializer,
    UUIDField,
)
from orion_project.api.viewsets import OrionModelSerializer

HEALTHY_POLL_SECONDS = 60
WORKER_ONLINE_HEARTBEATS = 3


class QueueFilterSerializer(serializers.Serializer):
    """The deprecated tag/deployment filter of legacy work queues."""

    tags = ListField(child=StrField(allow_null=False))
    deployment_ids = ListField(child=UUIDField(allow_null=False))

    def to_representation(self, instance: Any) -> Any:
        return instance


class WorkQueueSerializer(OrionModelSerializer):
    """A work queue with its pool's name and readiness."""

    filter = QueueFilterSerializer(read_only=True, allow_null=True)
    work_pool_name = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = WorkQueue
        fields = [
            "id", "created", "updated", "name", "description", "is_paused", "concurrency_limit",
            "priority", "work_pool_id", "filter", "last_polled", "work_pool_name", "status",
        ]  # fmt: skip

    def get_work_pool_name(self, queue: WorkQueue) -> str:
        return queue.work_pool.name

    def get_status(self, queue: WorkQueue) -> str:
        if queue.is_paused:
            return "PAUSED"
        recent = queue.last_polled and timezone.now() - queue.last_polled < dt.timedelta(seconds=HEALTHY_POLL_SECONDS)
        return "READY" if recent else "NOT_READY"


class WorkQueueCreateSerializer(StrictSerializer):
    """Body of ``POST /work_queues/`` and ``POST /work_pools/{pool}/queues``."""

    name = NameField(required=True, allow_null=False)
    description = StrField(default="", allow_null=True)
    is_paused = BoolField(default=False)
    concurrency_limit = IntField(min_value=0)
    priority = IntField(min_value=1)
    filter = QueueFilterSerializer(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The reference takes null as "no description".
        if attrs.get("description") is None:
            attrs["description"] = ""
        return attrs


class WorkQueueUpdateSerializer(StrictSerializer):
    """Body of ``PATCH`` on a work queue."""

    name = NameField(allow_null=False)
    description = StrField()
    is_paused = BoolField(allow_null=False)
    concurrency_limit = IntField(min_value=0)
    priority = IntField(min_value=1, allow_null=False)
    last_polled = DateTimeField()
    filter = QueueFilterSerializer(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "description" in attrs and attrs["description"] is None:
            attrs["description"] = ""
        return attrs


class WorkPoolSerializer(OrionModelSerializer):
    """A work pool with its default queue and readiness (2.20)."""

    status = serializers.SerializerMethodField()

    class Meta:
        model = WorkPool
        fields = [
            "id", "created", "updated", "name", "description", "type", "base_job_template",
            "is_paused", "concurrency_limit", "status", "default_queue_id",
        ]  # fmt: skip

    def get_status(self, pool: WorkPool) -> str:
        if pool.is_paused:
            return "PAUSED"
        online = getattr(pool, "online_workers", None)
        return "READY" if online else "NOT_READY"


class WorkPoolCreateSerializer(StrictSerializer):
    """Body of ``POST /work_pools/``."""

    name = NameField(required=True, allow_null=False)
    description = StrField()
    type = StrField(default="prefect-agent")
    base_job_template = JSONObjectField(default=dict)
    is_paused = BoolField(default=False)
    concurrency_limit = IntField(min_value=0)


class WorkPoolUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /work_pools/{name}``."""

    description = StrField()
    is_paused = BoolField(allow_null=False)
    base_job_template = JSONObjectField(allow_null=False)
    concurrency_limit = IntField(min_value=0)


class WorkerSerializer(OrionModelSerializer):
    """A worker known from its heartbeats."""

    status = serializers.SerializerMethodField()

    class Meta:
        model = Worker
        fields = [
            "id",
            "created",
            "updated",
            "name",
            "work_pool_id",
            "last_heartbeat_time",
            "heartbeat_interval_seconds",
            "status",
        ]

    def get_status(self, worker: Worker) -> str:
        interval = worker.heartbeat_interval_seconds or 30
        if worker.last_heartbeat_time is None:
            return "OFFLINE"
        silent = timezone.now() - worker.last_heartbeat_time
        return "ONLINE" if silent < dt.timedelta(seconds=interval * WORKER_ONLINE_HEARTBEATS) else "OFFLINE"
