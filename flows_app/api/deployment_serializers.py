"""Request and response shapes of deployments (reference §B.1 Deployment*, 2.20 additions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from flows_app.models import Deployment, DeploymentSchedule
from flows_app.schedules import ScheduleError, parse_schedule
from orion_project.api.fields import (
    BoolField,
    DateTimeField,
    EmbeddedBodySerializer,
    IntField,
    JSONObjectField,
    ListField,
    NameField,
    OptionalFieldMixin,
    StrField,
    StrictSerializer,
    UUIDField,
    seconds_field,
    tags_field,
)
from orion_project.api.viewsets import OrionModelSerializer
from runs_app.api.serializers import FlowRunPolicySerializer, StateCreateSerializer

DEPLOYMENT_READY_SECONDS = 60
# The most runs one ``POST /deployments/{id}/schedule`` may ask for: each is a row written
# in the request, and the scheduler service keeps creating later ones as time passes.
MAX_SCHEDULE_RUNS_PER_REQUEST = 1_000


@extend_schema_field(OpenApiTypes.OBJECT)
class ScheduleField(OptionalFieldMixin, serializers.Field):
    """An interval, cron or rrule schedule, stored in its normalised JSON shape."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            return parse_schedule(data).to_json()
        except ScheduleError as error:
            detail = [serializers.ErrorDetail(error.message, error.error_type)]
            raise serializers.ValidationError({error.key: detail} if error.key else detail) from None

    def to_representation(self, value: Any) -> Any:
        return value


class DeploymentScheduleCreateSerializer(StrictSerializer):
    """One item of the 2.20 ``schedules`` list."""

    active = BoolField(default=True)
    schedule = ScheduleField(required=True, allow_null=False)
    max_active_runs = IntField(min_value=0)
    max_scheduled_runs = IntField(min_value=0)
    catchup = BoolField(default=False)


class DeploymentScheduleUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /deployments/{id}/schedules/{schedule_id}``."""

    active = BoolField(allow_null=False)
    schedule = ScheduleField(allow_null=False)
    max_active_runs = IntField(min_value=0)
    max_scheduled_runs = IntField(min_value=0)
    catchup = BoolField(allow_null=False)


class DeploymentScheduleSerializer(OrionModelSerializer):
    """A stored deployment schedule."""

    class Meta:
        model = DeploymentSchedule
        fields = [
            "id",
            "created",
            "updated",
            "deployment_id",
            "schedule",
            "active",
            "max_active_runs",
            "max_scheduled_runs",
            "catchup",
        ]


class DeploymentSerializer(OrionModelSerializer):
    """``DeploymentResponse`` with the keys of both client lines."""

    schedules = DeploymentScheduleSerializer(many=True, read_only=True)
    job_variables = serializers.SerializerMethodField()
    work_pool_name = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = [
            "id", "created", "updated", "name", "version", "description", "flow_id", "schedule",
            "is_schedule_active", "paused", "schedules", "job_variables", "infra_overrides",
            "parameters", "tags", "work_queue_name", "last_polled", "parameter_openapi_schema",
            "path", "pull_steps", "entrypoint", "manifest_path", "storage_document_id",
            "infrastructure_document_id", "created_by", "updated_by", "work_pool_name", "status",
            "enforce_parameter_schema",
        ]  # fmt: skip

    def get_job_variables(self, deployment: Deployment) -> dict[str, Any]:
        return dict(deployment.infra_overrides or {})

    def get_work_pool_name(self, deployment: Deployment) -> str | None:
        return deployment.work_queue.work_pool.name if deployment.work_queue is not None else None

    def get_status(self, deployment: Deployment) -> str:
        polled = deployment.last_polled
        if polled is not None and timezone.now() - polled < dt.timedelta(seconds=DEPLOYMENT_READY_SECONDS):
            return "READY"
        return "NOT_READY"


class DeploymentCreateSerializer(StrictSerializer):
    """Body of ``POST /deployments/``: every field; omitted ones take their defaults."""

    name = NameField(required=True, allow_null=False)
    flow_id = UUIDField(required=True, allow_null=False)
    is_schedule_active = BoolField(default=True)
    paused = BoolField(default=False)
    schedules = ListField(child=DeploymentScheduleCreateSerializer(), default=list)
    enforce_parameter_schema = BoolField(default=False)
    parameter_openapi_schema = JSONObjectField()
    parameters = JSONObjectField(default=dict)
    tags = tags_field(default=list)
    pull_steps = ListField(child=JSONObjectField(allow_null=False))
    manifest_path = StrField()
    work_queue_name = StrField()
    work_pool_name = StrField()
    storage_document_id = UUIDField()
    infrastructure_document_id = UUIDField()
    schedule = ScheduleField()
    description = StrField()
    path = StrField()
    version = StrField()
    entrypoint = StrField()
    infra_overrides = JSONObjectField(default=dict)
    job_variables = JSONObjectField()


class DeploymentUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /deployments/{id}``: only the keys sent change."""

    version = StrField()
    schedule = ScheduleField()
    description = StrField()
    is_schedule_active = BoolField(allow_null=False)
    paused = BoolField(allow_null=False)
    schedules = ListField(child=DeploymentScheduleCreateSerializer())
    parameters = JSONObjectField(allow_null=False)
    tags = tags_field(allow_null=False)
    work_queue_name = StrField()
    work_pool_name = StrField()
    path = StrField()
    infra_overrides = JSONObjectField(allow_null=False)
    job_variables = JSONObjectField()
    entrypoint = StrField()
    manifest_path = StrField()
    storage_document_id = UUIDField()
    infrastructure_document_id = UUIDField()
    enforce_parameter_schema = BoolField(allow_null=False)


class DeploymentFlowRunCreateSerializer(StrictSerializer):
    """Body of ``POST /deployments/{id}/create_flow_run``."""

    state = StateCreateSerializer(required=False, allow_null=True)
    name = StrField()
    parameters = JSONObjectField(default=dict)
    enforce_parameter_schema = BoolField()
    context = JSONObjectField(default=dict)  # type: ignore[assignment]  # a field, not Field.context
    infrastructure_document_id = UUIDField()
    empirical_policy = FlowRunPolicySerializer(required=False)
    tags = tags_field(default=list)
    idempotency_key = StrField()
    parent_task_run_id = UUIDField()
    work_queue_name = StrField()
    job_variables = JSONObjectField()


class ScheduleRunsSerializer(EmbeddedBodySerializer):
    """Body of ``POST /deployments/{id}/schedule``."""

    start_time = DateTimeField()
    end_time = DateTimeField()
    min_time = seconds_field()
    min_runs = IntField(max_value=MAX_SCHEDULE_RUNS_PER_REQUEST)
    max_runs = IntField(max_value=MAX_SCHEDULE_RUNS_PER_REQUEST)
