"""Saved searches and flow-run notification policies (reference §A.1, §B.1, §C)."""

from __future__ import annotations

import string
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from flows_app import selectors
from flows_app.filters import NOTIFICATION_POLICY_FILTER
from flows_app.models import FlowRunNotificationPolicy, SavedSearch
from flows_app.services.flows import (
    notification_policy_create,
    notification_policy_delete,
    notification_policy_update,
    saved_search_delete,
    saved_search_upsert,
)
from orion_project.api.actions import filter_route, read_route, route
from orion_project.api.errors import RouteNotFound
from orion_project.api.fields import AnyJSONField, BoolField, ListField, StrField, StrictSerializer, UUIDField
from orion_project.api.filtering import request_serializer
from orion_project.api.viewsets import OrionModelSerializer, OrionViewSet

TEMPLATE_KEYS = frozenset(
    {
        "flow_run_notification_policy_id", "flow_id", "flow_name", "flow_run_url", "flow_run_id",
        "flow_run_name", "flow_run_parameters", "flow_run_state_type", "flow_run_state_name",
        "flow_run_state_timestamp", "flow_run_state_message",
    }
)  # fmt: skip

PageRequest = request_serializer("SavedSearchesFilterRequest", {}, paginated=True)
PoliciesFilterRequest = request_serializer(
    "FlowRunNotificationPoliciesFilterRequest",
    {"flow_run_notification_policy_filter": NOTIFICATION_POLICY_FILTER},
    paginated=True,
)


class SavedSearchFilterItemSerializer(serializers.Serializer):
    """One UI filter of a saved search."""

    object = StrField(required=True, allow_null=False)
    property = StrField(required=True, allow_null=False)
    type = StrField(required=True, allow_null=False)
    operation = StrField(required=True, allow_null=False)
    value = AnyJSONField(required=True)


class SavedSearchCreateSerializer(StrictSerializer):
    """Body of ``PUT /saved_searches/``."""

    name = StrField(required=True, allow_null=False)
    filters = ListField(child=SavedSearchFilterItemSerializer(), default=list)


class SavedSearchSerializer(OrionModelSerializer):
    """A saved search."""

    class Meta:
        model = SavedSearch
        fields = ["id", "created", "updated", "name", "filters"]


class MessageTemplateField(StrField):
    """A notification message whose ``{placeholders}`` must be known ones."""

    default_error_messages = {"value_error": "Invalid template key(s): {keys}. Valid keys: {valid}."}

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            keys = {name for _, name, _, _ in string.Formatter().parse(value) if name}
        except ValueError:
            keys = {"<malformed>"}
        unknown = keys - TEMPLATE_KEYS
        if unknown:
            self.fail("value_error", keys=", ".join(sorted(unknown)), valid=", ".join(sorted(TEMPLATE_KEYS)))
        return value


class PolicyCreateSerializer(StrictSerializer):
    """Body of ``POST /flow_run_notification_policies/``."""

    is_active = BoolField(default=True)
    state_names = ListField(child=StrField(allow_null=False), required=True, allow_null=False)
    tags = ListField(child=StrField(allow_null=False), required=True, allow_null=False)
    block_document_id = UUIDField(required=True, allow_null=False)
    message_template = MessageTemplateField()


class PolicyUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /flow_run_notification_policies/{id}``."""

    is_active = BoolField(allow_null=False)
    state_names = ListField(child=StrField(allow_null=False), allow_null=False)
    tags = ListField(child=StrField(allow_null=False), allow_null=False)
    block_document_id = UUIDField(allow_null=False)
    message_template = MessageTemplateField()


class PolicySerializer(OrionModelSerializer):
    """A flow-run notification policy."""

    class Meta:
        model = FlowRunNotificationPolicy
        fields = [
            "id",
            "created",
            "updated",
            "is_active",
            "state_names",
            "tags",
            "block_document_id",
            "message_template",
        ]


class SavedSearchViewSet(OrionViewSet):
    """Saved searches: upsert by name, read, delete, list."""

    queryset = SavedSearch.objects.all()
    serializer_class = SavedSearchSerializer
    not_found_detail = "Saved search not found"
    schema_tags = ("SavedSearches",)

    @route(
        "create_saved_search",
        request=SavedSearchCreateSerializer,
        responses={200: SavedSearchSerializer, 201: SavedSearchSerializer},
    )
    def upsert(self, request: Request) -> Response:
        """Create a saved search, or replace the filters of the one with this name (200)."""
        data = self.body(SavedSearchCreateSerializer)
        search, created = saved_search_upsert(
            workspace_id=self.workspace_id, name=data["name"], filters=data["filters"]
        )
        return self.read(search, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    retrieve = read_route("read_saved_search", "Get a saved search by id.", SavedSearchSerializer)

    @route("delete_saved_search", responses={204: None})
    def destroy(self, request: Request, id: str) -> Response:
        """Delete a saved search."""
        if not saved_search_delete(workspace_id=self.workspace_id, saved_search_id=self.object_id()):
            raise RouteNotFound("Saved search not found")
        return Response(status=status.HTTP_204_NO_CONTENT)

    filter = filter_route("read_saved_searches", "Saved searches by name.", PageRequest)

    def matching(self, data: dict[str, Any]) -> QuerySet[SavedSearch]:
        return selectors.saved_searches(workspace_id=self.workspace_id)


class NotificationPolicyViewSet(OrionViewSet):
    """Flow-run notification policies: create, read, update, delete, list."""

    queryset = FlowRunNotificationPolicy.objects.all()
    serializer_class = PolicySerializer
    not_found_detail = "Flow run notification policy not found"
    schema_tags = ("Flow Run Notification Policies",)

    @route("create_flow_run_notification_policy", request=PolicyCreateSerializer, responses={201: PolicySerializer})
    def create(self, request: Request) -> Response:
        """Create a notification policy."""
        policy = notification_policy_create(workspace_id=self.workspace_id, data=self.body(PolicyCreateSerializer))
        return self.read(policy, status.HTTP_201_CREATED)

    retrieve = read_route("read_flow_run_notification_policy", "Get a notification policy by id.", PolicySerializer)

    @route("update_flow_run_notification_policy", request=PolicyUpdateSerializer, responses={204: None})
    def partial_update(self, request: Request, id: str) -> Response:
        """Update the fields sent."""
        policy_id = self.object_id()
        changes = self.body(PolicyUpdateSerializer)
        if not notification_policy_update(workspace_id=self.workspace_id, policy_id=policy_id, changes=changes):
            raise RouteNotFound(self.not_found_detail)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("delete_flow_run_notification_policy", responses={204: None})
    def destroy(self, request: Request, id: str) -> Response:
        """Delete a notification policy."""
        if not notification_policy_delete(workspace_id=self.workspace_id, policy_id=self.object_id()):
            raise RouteNotFound(self.not_found_detail)
        return Response(status=status.HTTP_204_NO_CONTENT)

    filter = filter_route(
        "read_flow_run_notification_policies",
        "Policies matching `flow_run_notification_policy_filter` (its `is_active` defaults to `{eq_: false}`).",
        PoliciesFilterRequest,
    )

    def matching(self, data: dict[str, Any]) -> QuerySet[FlowRunNotificationPolicy]:
        return selectors.notification_policies_matching(workspace_id=self.workspace_id, filters=data).order_by("id")
