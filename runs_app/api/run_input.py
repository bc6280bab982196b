"""Flow-run input (2.20 ``/flow_runs/{id}/input...``), used by
``pause_flow_run(wait_for_input=...)``, ``send_input`` and ``receive_input``."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.actions import route
from orion_project.api.errors import RouteNotFound
from orion_project.api.fields import (
    IntField,
    LenientBodySerializer,
    ListField,
    MaxLengthStrField,
    StrField,
)
from orion_project.api.viewsets import OrionModelSerializer, OrionViewSet
from orion_project.exceptions import ObjectNotFoundError
from orion_project.filtering import MAX_PATTERN_LENGTH
from runs_app.models import FlowRun, FlowRunInput
from runs_app.selectors.run_input import flow_run_input_get, flow_run_inputs_with_prefix
from runs_app.services.run_input import flow_run_input_create, flow_run_input_delete

FLOW_RUN_INPUT_NOT_FOUND = "Flow run input not found"


class InputValueField(StrField):
    """``value``: bytes in the reference, so text or a number (as text); anything else is
    pydantic's ``byte type expected``."""

    default_error_messages = {"type_error.bytes": "byte type expected"}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, (str, int, float)):
            self.fail("type_error.bytes")
        return str(data)


class InputKeyField(StrField):
    """``key``: lowercase letters, digits and dashes (the reference checks it only when
    storing, and answers 500; this server answers 422)."""

    default_error_messages = {"value_error": "Key must only contain lowercase letters, numbers, and dashes."}

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value and not all((char.islower() and char.isascii()) or char.isdigit() or char == "-" for char in value):
            self.fail("value_error")
        return value


class FlowRunInputCreateSerializer(LenientBodySerializer):
    """Body of ``POST /flow_runs/{id}/input``."""

    key = InputKeyField(required=True, allow_null=False)
    value = InputValueField(required=True, allow_null=False)
    sender = StrField()


class FlowRunInputFilterSerializer(LenientBodySerializer):
    """Body of ``POST /flow_runs/{id}/input/filter``."""

    # Matched with LIKE: bounded as the filters' like_ values are.
    prefix = MaxLengthStrField(max_length=MAX_PATTERN_LENGTH, required=True, allow_null=False)
    limit = IntField(default=1, min_value=0)
    exclude_keys = ListField(child=StrField(allow_null=False), default=list)


class FlowRunInputSerializer(OrionModelSerializer):
    """A stored input; ``value`` is the JSON text as sent."""

    class Meta:
        model = FlowRunInput
        fields = ("id", "created", "updated", "flow_run_id", "key", "value", "sender")


class FlowRunInputViewSet(OrionViewSet):
    """Inputs of a flow run, and the 2.20 graph of a flow run."""

    queryset = FlowRun.objects.all()
    schema_tags = ("Flow Runs",)

    @route(
        "create_flow_run_input",
        "Store a value for the flow run under a key; a key is written once (409).",
        detail=True,
        post="input",
        request=FlowRunInputCreateSerializer,
        responses={201: None},
    )
    def create_input(self, request: Request, id: str) -> Response:
        flow_run_id = self.object_id()
        data = self.body(FlowRunInputCreateSerializer)
        try:
            flow_run_input_create(flow_run_id=flow_run_id, **data, workspace_id=self.workspace_id)
        except ObjectNotFoundError as error:
            raise RouteNotFound(error.message) from None
        return Response(None, status=status.HTTP_201_CREATED)

    @route(
        "filter_flow_run_input",
        "The flow run's inputs whose key starts with `prefix`, oldest first.",
        detail=True,
        post="input/filter",
        request=FlowRunInputFilterSerializer,
        responses={200: FlowRunInputSerializer(many=True)},
    )
    def filter_input(self, request: Request, id: str) -> Response:
        flow_run_id = self.object_id()
        data = self.body(FlowRunInputFilterSerializer)
        rows = flow_run_inputs_with_prefix(
            flow_run_id=flow_run_id,
            prefix=data["prefix"],
            limit=data["limit"],
            exclude_keys=data["exclude_keys"],
            workspace_id=self.workspace_id,
        )
        return Response(FlowRunInputSerializer(rows, many=True).data)

    @route(
        "read_flow_run_input",
        "The value stored under a key, as the plain text that was sent.",
        detail=True,
        get=r"input/(?P<key>[^/]+)",
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def read_input(self, request: Request, id: str, key: str) -> HttpResponse:
        stored = flow_run_input_get(flow_run_id=self.object_id(), key=key, workspace_id=self.workspace_id)
        if stored is None:
            raise RouteNotFound(FLOW_RUN_INPUT_NOT_FOUND)
        return HttpResponse(stored.value, content_type="text/plain; charset=utf-8")

    @route(
        "delete_flow_run_input",
        "Delete the value stored under a key.",
        responses={204: None},
    )
    @read_input.mapping.delete
    def delete_input(self, request: Request, id: str, key: str) -> Response:
        if not flow_run_input_delete(flow_run_id=self.object_id(), key=key, workspace_id=self.workspace_id):
            raise RouteNotFound(FLOW_RUN_INPUT_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
