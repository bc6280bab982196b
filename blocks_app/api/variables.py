"""Variable routes (2.20 ``/variables/``): by id and by name, filter, count."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from blocks_app.filters import VARIABLE_FILTER, VARIABLE_SORT
from blocks_app.models import Variable
from blocks_app.selectors.variables import variable_get, variables_matching
from blocks_app.services.variables import variable_create, variable_delete, variable_update
from orion_project.api.actions import count_route, filter_route, route
from orion_project.api.errors import RouteNotFound
from orion_project.api.fields import (
    UUID_PATH_PATTERN,
    ListField,
    MaxLengthStrField,
    PatternNameField,
    StrField,
    StrictSerializer,
)
from orion_project.api.filtering import request_serializer
from orion_project.api.viewsets import OrionModelSerializer, OrionViewSet

VARIABLE_NOT_FOUND = "Variable not found."


def variable_name_field(**kwargs: Any) -> PatternNameField:
    return PatternNameField(
        pattern=r"^[a-z0-9_]*$",
        rule="Variable name must only contain lowercase letters, numbers, and underscores.",
        max_length=255,
        **kwargs,
    )


class VariableSerializer(OrionModelSerializer):
    """A variable as the API returns it."""

    # Declared, not derived from the model: the column's regex validator plus blank names
    # would document a oneOf that an empty name (which the reference accepts) matches twice.
    name = StrField(allow_null=False)

    class Meta:
        model = Variable
        fields = ("id", "created", "updated", "name", "value", "tags")


class VariableCreateSerializer(StrictSerializer):
    """Body of ``POST /variables/``."""

    name = variable_name_field(required=True, allow_null=False)
    value = MaxLengthStrField(max_length=5000, required=True, allow_null=False)
    tags = ListField(child=StrField(allow_null=False), allow_null=False)


class VariableUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /variables/{id}`` and ``/variables/name/{name}``: only the keys sent change."""

    name = variable_name_field()
    value = MaxLengthStrField(max_length=5000)
    tags = ListField(child=StrField(allow_null=False))


VariablesFilterRequest = request_serializer(
    "VariablesFilterRequest", {"variables": VARIABLE_FILTER}, sort=VARIABLE_SORT, paginated=True
)
VariablesCountRequest = request_serializer("VariablesCountRequest", {"variables": VARIABLE_FILTER})


class VariableViewSet(OrionViewSet):
    """Variables: create, read/update/delete by id or by name, filter and count."""

    queryset = Variable.objects.all()
    serializer_class = VariableSerializer
    not_found_detail = VARIABLE_NOT_FOUND
    lookup_value_regex = UUID_PATH_PATTERN
    sort_spec = VARIABLE_SORT
    schema_tags = ("Variables",)

    def _found(self, variable: Variable | None) -> Response:
        if variable is None:
            raise RouteNotFound(VARIABLE_NOT_FOUND)
        return self.read(variable)

    def _changes(self) -> dict[str, Any]:
        return {key: value for key, value in self.body(VariableUpdateSerializer).items() if value is not None}

    @route("create_variable", request=VariableCreateSerializer, responses={201: VariableSerializer})
    def create(self, request: Request) -> Response:
        """Create a variable; names are unique (409)."""
        data = self.body(VariableCreateSerializer)
        variable = variable_create(
            name=data["name"], value=data["value"], tags=data.get("tags"), workspace_id=self.workspace_id
        )
        return self.read(variable, status.HTTP_201_CREATED)

    @route("read_variable", responses={200: VariableSerializer})
    def retrieve(self, request: Request, id: str) -> Response:
        """Get a variable by id."""
        return self._found(variable_get(variable_id=uuid.UUID(id), workspace_id=self.workspace_id))

    @route("update_variable", request=VariableUpdateSerializer, responses={204: None})
    def partial_update(self, request: Request, id: str) -> Response:
        """Change a variable's name, value or tags."""
        if not variable_update(changes=self._changes(), variable_id=uuid.UUID(id), workspace_id=self.workspace_id):
            raise RouteNotFound(VARIABLE_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("delete_variable", responses={204: None})
    def destroy(self, request: Request, id: str) -> Response:
        """Delete a variable by id."""
        if not variable_delete(variable_id=uuid.UUID(id), workspace_id=self.workspace_id):
            raise RouteNotFound(VARIABLE_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("read_variable_by_name", get=r"name/(?P<name>[^/]+)", responses={200: VariableSerializer})
    def by_name(self, request: Request, name: str) -> Response:
        """Get a variable by name."""
        return self._found(variable_get(name=name, workspace_id=self.workspace_id))

    @route("update_variable_by_name", request=VariableUpdateSerializer, responses={204: None})
    @by_name.mapping.patch
    def update_by_name(self, request: Request, name: str) -> Response:
        """Change a variable found by name."""
        if not variable_update(changes=self._changes(), name=name, workspace_id=self.workspace_id):
            raise RouteNotFound(VARIABLE_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("delete_variable_by_name", responses={204: None})
    @by_name.mapping.delete
    def delete_by_name(self, request: Request, name: str) -> Response:
        """Delete a variable found by name."""
        if not variable_delete(name=name, workspace_id=self.workspace_id):
            raise RouteNotFound(VARIABLE_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    filter = filter_route(
        "read_variables",
        "Variables matching the filter, sorted (default NAME_ASC) and paginated.",
        VariablesFilterRequest,
    )

    def matching(self, data: dict[str, Any]) -> QuerySet[Variable]:
        return variables_matching(filters=data, workspace_id=self.workspace_id)

    count = count_route("count_variables", "Count variables matching the filter.", VariablesCountRequest)
