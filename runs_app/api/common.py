"""Pieces the flow-run and task-run routes share: filter keys, set_state, history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.errors import DetailError
from orion_project.api.fields import DateTimeField, EnumField, seconds_field
from orion_project.api.filtering import request_serializer, validate_body
from runs_app.api.schema_enums import SET_STATE_STATUS_VALUES
from runs_app.api.serializers import SetStateSerializer, StateSerializer, state_json
from runs_app.filters import RELATED_RUN_FILTERS
from runs_app.orchestration.context import OrchestrationResult, ProposedState, state_details_json

HistoryRequest = request_serializer(
    "HistoryRequest",
    RELATED_RUN_FILTERS,
    extra={
        "history_start": DateTimeField(required=True, allow_null=False),
        "history_end": DateTimeField(required=True, allow_null=False),
        "history_interval_seconds": seconds_field(required=True, allow_null=False),
    },
)

OrchestrationResultSerializer = inline_serializer(
    "OrchestrationResult",
    {
        "state": StateSerializer(allow_null=True),
        "status": EnumField(SET_STATE_STATUS_VALUES),
        "details": serializers.DictField(),
    },
)


def api_version(request: Request) -> tuple[int, int, int] | None:
    """The client's API version, parsed by ``ApiVersionMiddleware``."""
    return getattr(request._request, "orion_api_version", None)


def proposal_from_body(state: Mapping[str, Any] | None) -> ProposedState | None:
    """A validated ``StateCreate`` body (``None``: none given) as a proposal stamped by the
    server: its own ``id``/``timestamp`` are ignored, as the reference does."""
    if not state:
        return None
    return ProposedState.make(
        type=state["type"],
        name=state.get("name"),
        timestamp=timezone.now(),
        message=state.get("message"),
        data=state.get("data"),
        state_details=state_details_json(state.get("state_details")),
    )


def proposal_from_request(request: Request) -> tuple[ProposedState, bool]:
    """The validated ``set_state`` body as a server-stamped proposal and the force flag."""
    data = validate_body(SetStateSerializer, request.data)
    proposal = proposal_from_body(data["state"])
    assert proposal is not None  # the serializer requires a state
    return proposal, bool(data["force"])


# What a route that proposes a state answers (:func:`orchestration_response`).
ORCHESTRATION_ANSWERS = {200: OrchestrationResultSerializer, 201: OrchestrationResultSerializer}


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
        filters=data,
        start=data["history_start"],
        end=data["history_end"],
        interval=dt.timedelta(seconds=seconds),
        now=timezone.now(),
        workspace_id=request.workspace.id,  # type: ignore[attr-defined]
    )
    # The selector's rows are already in wire form (``HistoryIntervalSerializer`` documents
    # them); running them through the serializer cost a tenth of the request.
    return Response(intervals)
