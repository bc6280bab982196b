"""Automation routes (2.20 ``/automations/``) and ``/templates/validate``.

Bodies are automation documents, validated by ``automations_app.schema`` as the
reference validates them; a document that does not validate is a 422 in the
reference's shape with every reason it gives.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from automations_app.filters import AUTOMATION_FILTER, AUTOMATION_SORT
from automations_app.models import Automation
from automations_app.schema import (
    ACTION_NAMES,
    DocumentInvalid,
    TemplateProblem,
    check_template,
    parse_automation_create,
    parse_automation_partial_update,
    parse_automation_update,
)
from automations_app.schema.model import string
from automations_app.selectors import automation_get, automations_count, automations_matching, automations_related_to
from automations_app.services.automations import (
    automation_create,
    automation_delete,
    automation_set_enabled,
    automation_update,
    automations_delete_owned_by,
)
from orion_project.api.actions import filter_route, route
from orion_project.api.errors import RequestValidationError
from orion_project.api.fields import UUID_PATH_PATTERN, AnyJSONField
from orion_project.api.filtering import request_serializer
from orion_project.api.viewsets import OrionModelSerializer, OrionViewSet
from orion_project.exceptions import ObjectNotFoundError

AUTOMATION_NOT_FOUND = "Automation not found"
RESOURCE_ID = OpenApiParameter("resource_id", OpenApiTypes.STR, OpenApiParameter.PATH)


def _document(name: str) -> dict[str, Any]:
    """A request body documented by one of the components ``automations_app.api.openapi`` adds."""
    return {"application/json": {"$ref": f"#/components/schemas/{name}"}}


def _refs(*names: str) -> dict[str, Any]:
    return {"anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in names]}


@extend_schema_field(_refs("EventTrigger", "CompoundTrigger", "SequenceTrigger"))
class TriggerField(AnyJSONField):
    """A stored trigger, answered as stored."""


@extend_schema_field({"type": "array", "items": _refs(*ACTION_NAMES)})
class ActionsField(AnyJSONField):
    """A stored action list, answered as stored."""


class AutomationSerializer(OrionModelSerializer):
    """An automation as the API returns it: the stored document, then id and times."""

    trigger = TriggerField()
    actions = ActionsField()
    actions_on_trigger = ActionsField()
    actions_on_resolve = ActionsField()

    class Meta:
        model = Automation
        fields = (
            "name",
            "description",
            "enabled",
            "trigger",
            "actions",
            "actions_on_trigger",
            "actions_on_resolve",
            "id",
            "created",
            "updated",
        )


AutomationsFilterRequest = request_serializer(
    "AutomationsFilterRequest", {"automations": AUTOMATION_FILTER}, sort=AUTOMATION_SORT, paginated=True
)


class AutomationViewSet(OrionViewSet):
    """Automations: create, read, replace, enable/disable, delete; filter, count; the
    automations related to or owned by a resource."""

    queryset = Automation.objects.all()
    serializer_class = AutomationSerializer
    lookup_value_regex = UUID_PATH_PATTERN
    sort_spec = AUTOMATION_SORT
    schema_tags = ("Automations",)

    def _rejected(self, invalid: DocumentInvalid, loc: str, body: Any) -> RequestValidationError:
        errors = [{**problem, "loc": [loc, *problem["loc"]]} for problem in invalid.errors]
        return RequestValidationError(errors, body)

    def _parsed(self, parse: Any) -> Any:
        try:
            return parse(self.request.data)
        except DocumentInvalid as invalid:
            raise self._rejected(invalid, "body", self.request.data) from None

    @route("create_automation", request=_document("AutomationCreate"), responses={201: AutomationSerializer})
    def create(self, request: Request) -> Response:
        """Create an automation; its trigger ids are assigned by the server."""
        document, owner = self._parsed(parse_automation_create)
        automation = automation_create(document=document, owner_resource=owner, workspace_id=self.workspace_id)
        return self.read(automation, status.HTTP_201_CREATED)

    @route("read_automation", responses={200: AutomationSerializer})
    def retrieve(self, request: Request, id: str) -> Response:
        """Get an automation by id."""
        automation = automation_get(automation_id=uuid.UUID(id), workspace_id=self.workspace_id)
        if automation is None:
            raise ObjectNotFoundError(AUTOMATION_NOT_FOUND)
        return self.read(automation)

    @route("update_automation", request=_document("AutomationUpdate"), responses={204: None})
    def update(self, request: Request, id: str) -> Response:
        """Replace an automation's fields named in the body (its trigger gets new ids)."""
        changes = self._parsed(parse_automation_update)
        if not automation_update(automation_id=uuid.UUID(id), changes=changes, workspace_id=self.workspace_id):
            raise ObjectNotFoundError(AUTOMATION_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("patch_automation", request=_document("AutomationPartialUpdate"), responses={204: None})
    def partial_update(self, request: Request, id: str) -> Response:
        """Enable or disable an automation (refused if enabling makes it one that loops)."""
        enabled = self._parsed(parse_automation_partial_update)
        try:
            found = automation_set_enabled(automation_id=uuid.UUID(id), enabled=enabled, workspace_id=self.workspace_id)
        except DocumentInvalid as invalid:
            # The reference reports the whole automation's problems under "automation",
            # with the body as it read it (its default filled in).
            body = {"enabled": True if enabled is None else enabled}
            raise self._rejected(invalid, "automation", body) from None
        if not found:
            raise ObjectNotFoundError(AUTOMATION_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("delete_automation", responses={204: None})
    def destroy(self, request: Request, id: str) -> Response:
        """Delete an automation."""
        if not automation_delete(automation_id=uuid.UUID(id), workspace_id=self.workspace_id):
            raise ObjectNotFoundError(AUTOMATION_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    filter = filter_route(
        "read_automations",
        "Automations matching the filter, sorted (default NAME_ASC) and paginated.",
        AutomationsFilterRequest,
    )

    def matching(self, data: dict[str, Any]) -> QuerySet[Automation]:
        return automations_matching(filters=data, workspace_id=self.workspace_id)

    @route("count_automations", post="count", request=None, responses={200: OpenApiTypes.INT})
    def count(self, request: Request) -> Response:
        """How many automations the workspace has (the body is not read)."""
        return Response(automations_count(workspace_id=self.workspace_id))

    @route(
        "read_automations_related_to_resource",
        get=r"related-to/(?P<resource_id>[^/]+)",
        parameters=[RESOURCE_ID],
        responses={200: AutomationSerializer(many=True)},
    )
    def related_to(self, request: Request, resource_id: str) -> Response:
        """Automations related to a resource: those running a deployment by id
        (``prefect.deployment.<id>``) and those the resource owns."""
        return self.rows(list(automations_related_to(resource_id=resource_id, workspace_id=self.workspace_id)))

    @route(
        "delete_automations_owned_by_resource",
        delete=r"owned-by/(?P<resource_id>[^/]+)",
        parameters=[RESOURCE_ID],
        responses={202: None},
    )
    def owned_by(self, request: Request, resource_id: str) -> Response:
        """Delete the automations a resource owns (``owner_resource`` at creation)."""
        automations_delete_owned_by(resource_id=resource_id, workspace_id=self.workspace_id)
        return Response(status=status.HTTP_202_ACCEPTED)


class TemplateViewSet(OrionViewSet):
    """``/templates/validate``: the body is the template, a JSON string."""

    queryset = Automation.objects.none()
    schema_tags = ("Automations",)

    @route(
        "validate_template",
        "204 when the Jinja template would be accepted in an action; 422 with the line and message when not.",
        post="validate",
        request=OpenApiTypes.STR,
        responses={204: None, 422: OpenApiTypes.OBJECT},
    )
    def validate(self, request: Request) -> Response:
        has_body = request.content_type.startswith("application/json") and bool(request.body)
        sent = request.data if has_body else ""
        try:
            # No body, or null, is the empty template.
            template = "" if sent is None else string(sent, ("body",))
        except DocumentInvalid as invalid:
            raise RequestValidationError(invalid.errors, sent) from None
        try:
            check_template(template)
        except TemplateProblem as problem:
            error = {"line": problem.line, "message": problem.message, "source": template}
            return Response({"error": error}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(status=status.HTTP_204_NO_CONTENT)
