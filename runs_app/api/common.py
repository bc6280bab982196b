"""Pieces the flow-run and task-run routes share: filter keys, set_state, history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from flows_app.api.filters import DEPLOYMENT_FILTER, FLOW_FILTER
from orion_project.api.errors import DetailError
from orion_project.api.fields import DateTimeField, EnumField, FloatField
from orion_project.api.filtering import request_serializer, validate_body
from runs_app.api.filters import FLOW_RUN_FILTER, TASK_RUN_FILTER
from runs_app.api.serializers import HistoryIntervalSerializer, SetStateSerializer, StateSerializer, state_json
from runs_app.orchestration.context import ProposedState
from runs_app.orchestration.engine import OrchestrationResult, proposed_from_body

# The filter body keys every run route accepts (reference §C.1 table).
RUN_FILTERS = {
    "flows": FLOW_FILTER,
    "flow_runs": FLOW_RUN_FILTER,
    "task_runs": TASK_RUN_FILTER,
    "deployments": DEPLOYMENT_FILTER,
}

HistoryRequest = request_serializer(
    "HistoryRequest",
    RUN_FILTERS,
    extra={
        "history_start": DateTimeField(required=True, allow_null=False),
        "history_end": DateTimeField(required=True, allow_null=False),
        "history_interval_seconds": FloatField(required=True, allow_null=False),
    },
)

OrchestrationResultSerializer = inline_serializer(
    "OrchestrationResult",
    {
        "state": StateSerializer(allow_null=True),
        "status": EnumField(["ACCEPT", "REJECT", "ABORT", "WAIT"]),
        "details": serializers.DictField(),
    },
)


def api_version(request: Request) -> tuple[int, int, int] | None:
    """The client's API version, parsed by ``ApiVersionMiddleware``."""
    return getattr(request._request, "orion_api_version", None)


def proposal_from_request(request: Request) -> tuple[ProposedState, bool]:
    """The validated ``set_state`` body as a server-stamped proposal and the force flag."""
    data = validate_body(SetStateSerializer, request.data)
    return proposed_from_body(dict(data["state"]), now=timezone.now()), bool(data["force"])


def orchestration_response(result: OrchestrationResult) -> Response:
    """201 when a state was written, 200 otherwise; the verdict is in the body."""
    body = {"state": state_json(result.state), "status": result.status, "details": result.details()}
    return Response(body, status=status.HTTP_201_CREATED if result.state_written else status.HTTP_200_OK)


def history_response(request: Request, history_for: Any) -> Response:
    """``POST /x/history``: validate the body, bucket the matching runs
    (``history_for``: ``selectors.flow_run_history`` or ``task_run_history``)."""
    data = validate_body(HistoryRequest, request.data)
    seconds = data["history_interval_seconds"]
    if seconds < 1:
        raise DetailError("History interval must not be less than 1 second.", 422)
    intervals = history_for(
        filters={key: data.get(key) for key in RUN_FILTERS},
        start=data["history_start"],
        end=data["history_end"],
        interval=dt.timedelta(seconds=seconds),
        now=timezone.now(),
    )
    return Response(HistoryIntervalSerializer(intervals, many=True).data)
