"""Flow routes (reference §A.1 "Flows", §G.1)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from flows_app import selectors
from flows_app.api.serializers import FlowCreateSerializer, FlowSerializer, FlowUpdateSerializer
from flows_app.filters import FLOW_FILTER, FLOW_SORT
from flows_app.models import Flow
from flows_app.services.flows import flow_delete, flow_get_or_create, flow_update
from orion_project.api.errors import RouteNotFound
from orion_project.api.filtering import request_serializer
from orion_project.api.viewsets import OrionViewSet
from runs_app.filters import RELATED_RUN_FILTERS

FlowsFilterRequest = request_serializer("FlowsFilterRequest", RELATED_RUN_FILTERS, sort=FLOW_SORT, paginated=True)
FlowsCountRequest = request_serializer("FlowsCountRequest", RELATED_RUN_FILTERS)

FLOW_NOT_FOUND = "Flow not found"


class FlowViewSet(OrionViewSet):
    """Flows: get-or-create by name, read, tag updates, delete, filter and count."""

    queryset = Flow.objects.all()
    serializer_class = FlowSerializer
    not_found_detail = FLOW_NOT_FOUND
    object_filter = FLOW_FILTER
    sort_spec = FLOW_SORT
    schema_tags = ("Flows",)

    def _matching(self, data: dict[str, Any]) -> Any:
        """The one place flow filter bodies become a queryset (used by filter and count)."""
        return selectors.flows_matching(filters=data)

    @extend_schema(
        operation_id="create_flow",
        summary="Create Flow",
        description=(
            "Gracefully create a flow: if a flow with the same name exists it is returned "
            "unchanged (200), otherwise it is created (201)."
        ),
        request=FlowCreateSerializer,
        responses={200: FlowSerializer, 201: FlowSerializer},
    )
    def create(self, request: Request) -> Response:
        data = self.body(FlowCreateSerializer)
        flow, created = flow_get_or_create(name=data["name"], tags=data["tags"])
        return self.read(flow, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="list_flows",
        summary="List Flows",
        description=(
            "Query flows with query-string filters named after the JSON filter: `name`, "
            "`name__like`, `tags__all=a,b`, `tags__is_null`, `id`; plus `sort`, `limit`, `offset`."
        ),
        parameters=[
            OpenApiParameter("sort", OpenApiTypes.STR, enum=list(FLOW_SORT.orders)),
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses={200: FlowSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        return self.query_string_list(request)

    @extend_schema(
        operation_id="read_flow",
        summary="Read Flow",
        description="Get a flow by id.",
        responses={200: FlowSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return self.read(self.get_object())

    @extend_schema(
        operation_id="update_flow",
        summary="Update Flow",
        description="Update a flow's tags (the only writable field).",
        request=FlowUpdateSerializer,
        responses={204: None},
    )
    def partial_update(self, request: Request, id: str) -> Response:
        flow_id = self.object_id()
        data = self.body(FlowUpdateSerializer)
        if not flow_update(flow_id=flow_id, tags=data.get("tags")):
            raise RouteNotFound(FLOW_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="delete_flow",
        summary="Delete Flow",
        description="Delete a flow by id, with its flow runs and deployments.",
        responses={204: None},
    )
    def destroy(self, request: Request, id: str) -> Response:
        if not flow_delete(flow_id=self.object_id()):
            raise RouteNotFound(FLOW_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="read_flows",
        summary="Read Flows",
        description="Query for flows matching the filters, sorted and paginated.",
        request=FlowsFilterRequest,
        responses={200: FlowSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        data = self.body(FlowsFilterRequest)
        return self.page(self._matching(data), data)

    @extend_schema(
        operation_id="count_flows",
        summary="Count Flows",
        description="Count flows matching the filters.",
        request=FlowsCountRequest,
        responses={200: OpenApiTypes.INT},
    )
    @action(detail=False, methods=["post"], url_path="count")
    def count(self, request: Request) -> Response:
        return Response(self._matching(self.body(FlowsCountRequest)).count())

    @extend_schema(
        operation_id="read_flow_by_name",
        summary="Read Flow By Name",
        description="Get a flow by its exact name.",
        responses={200: FlowSerializer},
    )
    @action(detail=False, methods=["get"], url_path=r"name/(?P<name>[^/]+)")
    def by_name(self, request: Request, name: str) -> Response:
        flow = Flow.objects.filter(name=name).first()
        if flow is None:
            raise RouteNotFound(FLOW_NOT_FOUND)
        return self.read(flow)
