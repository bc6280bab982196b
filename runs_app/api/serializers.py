"""Request and response shapes of runs, states, logs and concurrency limits (reference §B.1).

Response shapes are the union of the 2.7.12 and 2.20 fields: both client lines ignore
keys they do not know, and each finds every key it reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orion_project.api.fields import (
    AnyJSONField,
    BoolField,
    DateTimeField,
    EmbeddedBodySerializer,
    EnumField,
    FloatField,
    IntField,
    JSONObjectField,
    ListField,
    StrField,
    StrictSerializer,
    TimedeltaField,
    UUIDField,
    seconds_field,
    tags_field,
)
from orion_project.api.viewsets import OrionModelSerializer
from orion_project.clock import DurationRangeError, duration_from_seconds
from runs_app.empirical_policy import FLOW_RUN_POLICY_DEFAULTS, TASK_RUN_POLICY_DEFAULTS
from runs_app.models import FlowRun, TaskRun
from runs_app.orchestration.context import STATE_DETAIL_DEFAULTS
from runs_app.states import StateType

# ------------------------------------------------------------------------------ states


class StateDetailsSerializer(serializers.Serializer):
    """``StateDetails``: unknown keys are ignored (a core model in the reference)."""

    flow_run_id = UUIDField()
    task_run_id = UUIDField()
    child_flow_run_id = UUIDField()
    scheduled_time = DateTimeField()
    cache_key = StrField()
    cache_expiration = DateTimeField()
    untrackable_result = BoolField()
    pause_timeout = DateTimeField()
    pause_reschedule = BoolField()
    pause_key = StrField()
    run_input_keyset = JSONObjectField()
    refresh_cache = BoolField()
    retriable = BoolField()
    transition_id = UUIDField()
    task_parameters_id = UUIDField()


class StateCreateSerializer(StrictSerializer):
    """``StateCreate``: a proposed state. ``id`` and ``timestamp`` are accepted but ignored."""

    type = EnumField(StateType.values, required=True, allow_null=False)
    name = StrField()
    message = StrField()
    data = AnyJSONField()  # type: ignore[assignment]  # a field, not Serializer.data
    state_details = StateDetailsSerializer(required=False, allow_null=True)
    timestamp = DateTimeField()
    id = UUIDField()


def state_json(state: Any) -> dict[str, Any] | None:
    """A state row as the API returns it (``State``), every detail key present."""
    if state is None:
        return None
    return {
        "id": state.id,
        "type": state.type,
        "name": state.name,
        "timestamp": state.timestamp,
        "message": state.message,
        "data": state.data,
        "state_details": {**STATE_DETAIL_DEFAULTS, **(state.state_details or {})},
    }


class StateSerializer(serializers.Serializer):
    """Read shape of a state row (documentation; rendering uses :func:`state_json`)."""

    id = UUIDField()
    type = EnumField(StateType.values)
    name = StrField()
    timestamp = DateTimeField()
    message = StrField()
    data = AnyJSONField()  # type: ignore[assignment]  # a field, not Serializer.data
    state_details = StateDetailsSerializer()

    def to_representation(self, instance: Any) -> Any:
        return state_json(instance)


class SetStateSerializer(EmbeddedBodySerializer):
    """Body of ``POST /flow_runs/{id}/set_state`` and ``/task_runs/{id}/set_state``."""

    state = StateCreateSerializer(required=True, allow_null=False)
    force = BoolField(default=False)


# ------------------------------------------------------------------------------ policies


def _copy_deprecated_retry_fields(policy: dict[str, Any]) -> dict[str, Any]:
    """Deprecated ``max_retries``/``retry_delay_seconds`` fill empty ``retries``/``retry_delay``."""
    if not policy.get("retries") and policy.get("max_retries"):
        policy["retries"] = policy["max_retries"]
    if not policy.get("retry_delay") and policy.get("retry_delay_seconds"):
        policy["retry_delay"] = policy["retry_delay_seconds"]
    return policy


class FlowRunPolicySerializer(serializers.Serializer):
    """``FlowRunPolicy`` (unknown keys ignored)."""

    max_retries = IntField()
    retry_delay_seconds = seconds_field()
    retries = IntField()
    retry_delay = IntField()
    pause_keys = ListField(child=StrField(allow_null=False))
    resuming = BoolField()
    retry_type = StrField()

    def to_internal_value(self, data: Any) -> Any:
        values = {k: v for k, v in super().to_internal_value(data).items() if v is not None}
        return _copy_deprecated_retry_fields({**FLOW_RUN_POLICY_DEFAULTS, **values})


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]})
class RetryDelayField(serializers.Field):
    """``retry_delay`` of tasks: seconds as a number or a list of at most 50 numbers."""

    default_error_messages = {"type_error.integer": "value is not a valid integer"}

    def to_internal_value(self, data: Any) -> Any:
        if data is None:
            return None
        if isinstance(data, list):
            if len(data) > 50:
                raise serializers.ValidationError(
                    [serializers.ErrorDetail("Can not configure more than 50 retry delays per task.", "value_error")]
                )
            return [self._number(item) for item in data]
        return self._number(data)

    def _number(self, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail("type_error.integer")
        try:
            duration_from_seconds(value)  # a delay the retry rule can add to the clock
        except DurationRangeError as error:
            raise serializers.ValidationError([serializers.ErrorDetail(error.message, error.error_type)]) from None
        return value

    def to_representation(self, value: Any) -> Any:
        return value


class TaskRunPolicySerializer(serializers.Serializer):
    """``TaskRunPolicy`` (unknown keys ignored)."""

    max_retries = IntField()
    retry_delay_seconds = seconds_field()
    retries = IntField()
    retry_delay = RetryDelayField(required=False, allow_null=True)
    retry_jitter_factor = FloatField(min_value=0)

    def to_internal_value(self, data: Any) -> Any:
        values = {k: v for k, v in super().to_internal_value(data).items() if v is not None}
        return _copy_deprecated_retry_fields({**TASK_RUN_POLICY_DEFAULTS, **values})


# ------------------------------------------------------------------------------- reads


def _seconds(value: dt.timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _timing_json(run: FlowRun | TaskRun, now: dt.datetime) -> dict[str, Any]:
    """The timing fields flow runs and task runs share (estimates computed at ``now``)."""
    return {
        "expected_start_time": run.expected_start_time,
        "next_scheduled_start_time": run.next_scheduled_start_time,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "total_run_time": _seconds(run.total_run_time),
        "estimated_run_time": run.estimated_run_time_at(now),
        "estimated_start_time_delta": run.lateness_at(now),
    }


def flow_run_json(run: FlowRun, now: dt.datetime) -> dict[str, Any]:
    """A flow run as the API returns it (``FlowRunResponse``), with its current state.

    The one rendering of a flow run: :class:`FlowRunSerializer` describes this shape for
    the OpenAPI document and delegates to it. Written by hand because DRF's field-by-field
    serialization (building ~35 fields per response) cost more than the query (issue #12).
    ``run.state`` and ``run.work_queue.work_pool`` must be loaded (``select_related``) or
    set in memory, so rendering runs no query.
    """
    work_queue = run.work_queue if run.work_queue_id is not None else None
    work_pool = work_queue.work_pool if work_queue is not None else None
    return {
        "id": run.id,
        "created": run.created,
        "updated": run.updated,
        "name": run.name,
        "flow_id": run.flow_id,
        "state_id": run.state_id,
        "deployment_id": run.deployment_id,
        "deployment_version": run.deployment_version,
        "work_queue_id": run.work_queue_id,
        "work_queue_name": run.work_queue_name,
        "flow_version": run.flow_version,
        "parameters": run.parameters,
        "idempotency_key": run.idempotency_key,
        "context": run.context,
        "empirical_policy": {**FLOW_RUN_POLICY_DEFAULTS, **(run.empirical_policy or {})},
        "tags": run.tags,
        "parent_task_run_id": run.parent_task_run_id,
        "state_type": run.state_type,
        "state_name": run.state_name,
        "run_count": run.run_count,
        **_timing_json(run, now),
        "auto_scheduled": run.auto_scheduled,
        "infrastructure_document_id": run.infrastructure_document_id,
        "infrastructure_pid": run.infrastructure_pid,
        "created_by": run.created_by,
        "work_pool_id": work_pool.id if work_pool is not None else None,
        "work_pool_name": work_pool.name if work_pool is not None else None,
        "state": state_json(run.state),
        "job_variables": run.job_variables,
    }


def task_run_json(run: TaskRun, now: dt.datetime) -> dict[str, Any]:
    """A task run as the API returns it (``TaskRun``), with its current state; the one
    rendering, as :func:`flow_run_json` is for flow runs (``run.state`` loaded)."""
    return {
        "id": run.id,
        "created": run.created,
        "updated": run.updated,
        "name": run.name,
        "flow_run_id": run.flow_run_id,
        "task_key": run.task_key,
        "dynamic_key": run.dynamic_key,
        "cache_key": run.cache_key,
        "cache_expiration": run.cache_expiration,
        "task_version": run.task_version,
        "empirical_policy": {**TASK_RUN_POLICY_DEFAULTS, **(run.empirical_policy or {})},
        "tags": run.tags,
        "state_id": run.state_id,
        "task_inputs": run.task_inputs,
        "state_type": run.state_type,
        "state_name": run.state_name,
        "run_count": run.run_count,
        "flow_run_run_count": run.flow_run_run_count,
        **_timing_json(run, now),
        "state": state_json(run.state),
    }


class RunReadMixin(serializers.Serializer):
    """Computed fields shared by flow-run and task-run responses (computed at read time).

    The read serializers only document the response shape (OpenAPI); rendering is done
    by :func:`flow_run_json` / :func:`task_run_json`, to which ``to_representation``
    delegates, so there is one definition of each output.
    """

    render: ClassVar[Any] = None  # the row -> dict function of the subclass

    state_type = EnumField(StateType.values, read_only=True)
    estimated_run_time = FloatField(read_only=True)
    estimated_start_time_delta = FloatField(read_only=True)
    state = StateSerializer(read_only=True)

    def to_representation(self, instance: Any) -> Any:
        if "now" not in self.context:
            self.context["now"] = timezone.now()
        return type(self).render(instance, self.context["now"])


class FlowRunSerializer(RunReadMixin, OrionModelSerializer):
    """``FlowRunResponse``: a flow run with its current state."""

    render = staticmethod(flow_run_json)

    empirical_policy = JSONObjectField(read_only=True)
    work_queue_id = UUIDField(read_only=True)
    work_pool_id = UUIDField(read_only=True)
    work_pool_name = StrField(read_only=True)

    class Meta:
        model = FlowRun
        fields = [
            "id", "created", "updated", "name", "flow_id", "state_id", "deployment_id",
            "deployment_version", "work_queue_id", "work_queue_name", "flow_version",
            "parameters", "idempotency_key", "context", "empirical_policy", "tags",
            "parent_task_run_id", "state_type", "state_name", "run_count",
            "expected_start_time", "next_scheduled_start_time", "start_time", "end_time",
            "total_run_time", "estimated_run_time", "estimated_start_time_delta",
            "auto_scheduled", "infrastructure_document_id", "infrastructure_pid", "created_by",
            "work_pool_id", "work_pool_name", "state", "job_variables",
        ]  # fmt: skip


class TaskRunSerializer(RunReadMixin, OrionModelSerializer):
    """``TaskRun``: a task run with its current state."""

    render = staticmethod(task_run_json)

    empirical_policy = JSONObjectField(read_only=True)

    class Meta:
        model = TaskRun
        fields = [
            "id", "created", "updated", "name", "flow_run_id", "task_key", "dynamic_key",
            "cache_key", "cache_expiration", "task_version", "empirical_policy", "tags",
            "state_id", "task_inputs", "state_type", "state_name", "run_count",
            "flow_run_run_count", "expected_start_time", "next_scheduled_start_time",
            "start_time", "end_time", "total_run_time", "estimated_run_time",
            "estimated_start_time_delta", "state",
        ]  # fmt: skip


# ------------------------------------------------------------------------------ writes


class FlowRunCreateSerializer(StrictSerializer):
    """Body of ``POST /flow_runs/``."""

    state = StateCreateSerializer(required=False, allow_null=True)
    name = StrField()
    flow_id = UUIDField(required=True, allow_null=False)
    deployment_id = UUIDField()
    flow_version = StrField()
    parameters = JSONObjectField(default=dict)
    context = JSONObjectField(default=dict)  # type: ignore[assignment]  # a field, not Field.context
    parent_task_run_id = UUIDField()
    infrastructure_document_id = UUIDField()
    empirical_policy = FlowRunPolicySerializer(required=False)
    tags = tags_field(default=list)
    idempotency_key = StrField()
    job_variables = JSONObjectField()


class FlowRunUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /flow_runs/{id}``."""

    name = StrField(allow_null=False)
    flow_version = StrField()
    parameters = JSONObjectField(allow_null=False)
    empirical_policy = FlowRunPolicySerializer(required=False)
    tags = tags_field(allow_null=False)
    infrastructure_pid = StrField()
    job_variables = JSONObjectField()


class TaskInputsField(JSONObjectField):
    """``task_inputs``: ``{name: [{"input_type": "task_run"|"parameter"|"constant", ...}]}``."""

    default_error_messages = {
        **JSONObjectField.default_error_messages,
        "type_error.list": "value is not a valid list",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        inputs = super().to_internal_value(data)
        for value in inputs.values():
            if not isinstance(value, list):
                self.fail("type_error.list")
        return inputs


class TaskRunCreateSerializer(StrictSerializer):
    """Body of ``POST /task_runs/`` (2.20 may choose the ``id``)."""

    id = UUIDField()
    state = StateCreateSerializer(required=False, allow_null=True)
    name = StrField()
    flow_run_id = UUIDField(required=True)
    task_key = StrField(required=True, allow_null=False)
    dynamic_key = StrField(required=True, allow_null=False)
    cache_key = StrField(max_length=2000)
    cache_expiration = DateTimeField()
    task_version = StrField()
    empirical_policy = TaskRunPolicySerializer(required=False)
    tags = tags_field(default=list)
    task_inputs = TaskInputsField(default=dict)


class TaskRunUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /task_runs/{id}``: only ``name``."""

    name = StrField(allow_null=False)


# ----------------------------------------------------------------------------- history


class HistoryStateSerializer(serializers.Serializer):
    """One (state type, state name) aggregate inside a history interval."""

    state_type = EnumField(StateType.values)
    state_name = StrField()
    count_runs = IntField()
    sum_estimated_run_time = TimedeltaField()
    sum_estimated_lateness = TimedeltaField()


class HistoryIntervalSerializer(serializers.Serializer):
    """One interval of ``POST /flow_runs/history``."""

    interval_start = DateTimeField()
    interval_end = DateTimeField()
    states = HistoryStateSerializer(many=True)


def graph_node_json(task_run: TaskRun, now: dt.datetime) -> dict[str, Any]:
    """One node of ``GET /flow_runs/{id}/graph``: a task run and its upstream task runs
    (the de-duplicated task-run references among its ``task_inputs``)."""
    upstream: dict[str, dict[str, str]] = {}
    for inputs in (task_run.task_inputs or {}).values():
        for item in inputs or []:
            if isinstance(item, dict) and item.get("input_type") == "task_run" and item.get("id"):
                upstream.setdefault(str(item["id"]), {"input_type": "task_run", "id": str(item["id"])})
    details = task_run.state.state_details if task_run.state is not None else {}
    return {
        "id": task_run.id,
        "name": task_run.name,
        "upstream_dependencies": list(upstream.values()),
        "state": state_json(task_run.state),
        "expected_start_time": task_run.expected_start_time,
        "start_time": task_run.start_time,
        "end_time": task_run.end_time,
        "total_run_time": task_run.total_run_time,
        "estimated_run_time": task_run.estimated_run_time_at(now),
        "untrackable_result": bool((details or {}).get("untrackable_result")),
    }
