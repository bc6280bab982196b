"""What the 2.20 UI asks besides records: ``/ui/schemas/validate`` and
``/collections/views/{view}`` (answered as the 2.20 server answers offline)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from flows_app import schema_checks
from flows_app.models import Flow
from orion_project.api.actions import route
from orion_project.api.errors import DetailError, RouteNotFound
from orion_project.api.fields import JSONObjectField, LenientBodySerializer
from orion_project.api.viewsets import OrionViewSet


class SchemaValidateSerializer(LenientBodySerializer):
    """Body of ``POST /ui/schemas/validate``."""

    schema = JSONObjectField(required=True, allow_null=False)
    values = JSONObjectField(required=True, allow_null=False)


class UISchemaViewSet(OrionViewSet):
    """``/ui/schemas/validate``."""

    queryset = Flow.objects.none()
    schema_tags = ("UI",)

    @route(
        "validate_obj",
        "Check `values` against the JSON `schema`; errors are nested like the values.",
        post="validate",
        request=SchemaValidateSerializer,
        responses={200: OpenApiTypes.OBJECT},
    )
    def validate(self, request: Request) -> Response:
        data = self.body(SchemaValidateSerializer)
        try:
            return Response(schema_checks.schema_errors(schema=data["schema"], values=data["values"]))
        except schema_checks.InvalidSchemaError as error:
            raise DetailError(str(error), status.HTTP_422_UNPROCESSABLE_ENTITY) from None


class CollectionViewSet(OrionViewSet):
    """``/collections/views/{view}``: the integrations registry, as known offline."""

    queryset = Flow.objects.none()
    schema_tags = ("Collections",)

    @route(
        "read_view_content",
        "A view of the integrations registry. This server does not fetch the registry: it answers "
        "the worker metadata of the types its clients ship with, and 404 for the other views.",
        get=r"views/(?P<view>[^/]+)",
        responses={200: OpenApiTypes.OBJECT},
    )
    def view(self, request: Request, view: str) -> Response:
        if view in schema_checks.OFFLINE_VIEWS:
            return Response(schema_checks.OFFLINE_VIEWS[view])
        if view in schema_checks.KNOWN_VIEWS:
            raise RouteNotFound(f"Requested content missing for view {view}")
        raise RouteNotFound(f"View {view} not found in registry")
