"""``GET /flow_runs/{id}/graph-v2``: the 2.20 graph of a flow run."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.actions import route
from orion_project.api.errors import DetailError, RequestValidationError, pydantic_errors
from orion_project.api.fields import (
    UUID_PATH_PATTERN,
    DateTimeField,
)
from orion_project.api.viewsets import OrionViewSet
from runs_app.models import FlowRun
from runs_app.selectors.graph import FlowRunGraphTooLarge, flow_run_graph_v2


class FlowRunGraphViewSet(OrionViewSet):
    """``GET /flow_runs/{id}/graph-v2`` (a UUID path only, as in the reference)."""

    queryset = FlowRun.objects.all()
    lookup_value_regex = UUID_PATH_PATTERN
    schema_tags = ("Flow Runs",)

    @route(
        "read_flow_run_graph_v2",
        "Task runs and sub-flow runs of a flow run as nodes with their edges, artifacts and states.",
        detail=True,
        get="graph-v2",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Only nodes that end after this time.")
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def graph_v2(self, request: Request, id: str) -> Response:
        since = dt.datetime.min.replace(tzinfo=dt.UTC)
        if "since" in request.query_params:
            try:
                since = DateTimeField().run_validation(request.query_params["since"])
            except serializers.ValidationError as error:
                raise RequestValidationError(pydantic_errors(error.detail, ("query", "since"))) from None
        try:
            graph = flow_run_graph_v2(flow_run_id=self.object_id(), since=since, workspace_id=self.workspace_id)
        except FlowRunGraphTooLarge as error:
            raise DetailError(str(error), status.HTTP_400_BAD_REQUEST) from None
        return Response(graph)
