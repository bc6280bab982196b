"""Flow routes (reference §A.1 "Flows", §G.1)."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from flows_app import selectors
from flows_app.api.serializers import FlowCreateSerializer, FlowSerializer, FlowUpdateSerializer
from flows_app.filters import FLOW_FILTER, FLOW_SORT
from flows_app.models import Flow
from flows_app.services.flows import flow_delete, flow_get_or_create, flow_update
from orion_project.api.actions import (
    count_route,
    delete_route,
    filter_route,
    list_route,
    query_parameters,
    read_route,
    route,
)
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

    def matching(self, data: dict[str, Any]) -> Any:
        """The one place flow filter bodies become a queryset (used by filter and count)."""
        return selectors.flows_matching(workspace_id=self.workspace_id, filters=data)

    @route("create_flow", request=FlowCreateSerializer, responses={200: FlowSerializer, 201: FlowSerializer})
    def create(self, request: Request) -> Response:
        """Gracefully create a flow: if a flow with the same name exists it is returned
        unchanged (200), otherwise it is created (201)."""
        data = self.body(FlowCreateSerializer)
        flow, created = flow_get_or_create(workspace_id=self.workspace_id, name=data["name"], tags=data["tags"])
        return self.read(flow, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    list = list_route(
        "list_flows",
        (
            "Query flows with query-string filters named after the JSON filter: `name`, "
            "`name__like`, `tags__all=a,b`, `tags__is_null`, `id`; plus `sort`, `limit`, `offset`."
        ),
        FlowSerializer(many=True),
        query_parameters(FLOW_SORT),
    )

    retrieve = read_route("read_flow", "Get a flow by id.", FlowSerializer)

    @route("update_flow", request=FlowUpdateSerializer, responses={204: None})
    def partial_update(self, request: Request, id: str) -> Response:
        """Update a flow's tags (the only writable field)."""
        flow_id = self.object_id()
        data = self.body(FlowUpdateSerializer)
        if not flow_update(workspace_id=self.workspace_id, flow_id=flow_id, tags=data.get("tags")):
            raise RouteNotFound(FLOW_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    destroy = delete_route("delete_flow", "Delete a flow by id, with its flow runs and deployments.", flow_delete)

    filter = filter_route(
        "read_flows",
        "Query for flows matching the filters, sorted and paginated.",
        FlowsFilterRequest,
        page=selectors.flow_page,
    )

    count = count_route(
        "count_flows", "Count flows matching the filters.", FlowsCountRequest, count=selectors.flow_count
    )

    @route("read_flow_by_name", get=r"name/(?P<name>[^/]+)", responses={200: FlowSerializer})
    def by_name(self, request: Request, name: str) -> Response:
        """Get a flow by its exact name."""
        flow = self.get_queryset().filter(name=name).first()
        if flow is None:
            raise RouteNotFound(FLOW_NOT_FOUND)
        return self.read(flow)
