"""Saved searches and flow-run notification policies (reference §A.1, §B.1, §C)."""

from __future__ import annotations

import string
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
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

    @extend_schema(
        operation_id="create_saved_search",
        summary="Create Saved Search",
        description="Create a saved search, or replace the filters of the one with this name (200).",
        request=SavedSearchCreateSerializer,
        responses={200: SavedSearchSerializer, 201: SavedSearchSerializer},
    )
    def upsert(self, request: Request) -> Response:
        data = self.body(SavedSearchCreateSerializer)
        search, created = saved_search_upsert(name=data["name"], filters=data["filters"])
        return self.read(search, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="read_saved_search",
        summary="Read Saved Search",
        description="Get a saved search by id.",
        responses={200: SavedSearchSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return self.read(self.get_object())

    @extend_schema(
        operation_id="delete_saved_search",
        summary="Delete Saved Search",
        description="Delete a saved search.",
        responses={204: None},
    )
    def destroy(self, request: Request, id: str) -> Response:
        if not saved_search_delete(saved_search_id=self.object_id()):
            raise RouteNotFound("Saved search not found")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="read_saved_searches",
        summary="Read Saved Searches",
        description="Saved searches by name.",
        request=PageRequest,
        responses={200: SavedSearchSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        data = self.body(PageRequest)
        return self.page(SavedSearch.objects.order_by("name"), data)


class NotificationPolicyViewSet(OrionViewSet):
    """Flow-run notification policies: create, read, update, delete, list."""

    queryset = FlowRunNotificationPolicy.objects.all()
    serializer_class = PolicySerializer
    not_found_detail = "Flow run notification policy not found"
    schema_tags = ("Flow Run Notification Policies",)

    @extend_schema(
        operation_id="create_flow_run_notification_policy",
        summary="Create Flow Run Notification Policy",
        description="Create a notification policy.",
        request=PolicyCreateSerializer,
        responses={201: PolicySerializer},
    )
    def create(self, request: Request) -> Response:
        policy = notification_policy_create(data=self.body(PolicyCreateSerializer))
        return self.read(policy, status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="read_flow_run_notification_policy",
        summary="Read Flow Run Notification Policy",
        description="Get a notification policy by id.",
        responses={200: PolicySerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return self.read(self.get_object())

    @extend_schema(
        operation_id="update_flow_run_notification_policy",
        summary="Update Flow Run Notification Policy",
        description="Update the fields sent.",
        request=PolicyUpdateSerializer,
        responses={204: None},
    )
    def partial_update(self, request: Request, id: str) -> Response:
        policy_id = self.object_id()
        changes = self.body(PolicyUpdateSerializer)
        if not notification_policy_update(policy_id=policy_id, changes=changes):
            raise RouteNotFound(self.not_found_detail)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="delete_flow_run_notification_policy",
        summary="Delete Flow Run Notification Policy",
        description="Delete a notification policy.",
        responses={204: None},
    )
    def destroy(self, request: Request, id: str) -> Response:
        if not notification_policy_delete(policy_id=self.object_id()):
            raise RouteNotFound(self.not_found_detail)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="read_flow_run_notification_policies",
        summary="Read Flow Run Notification Policies",
        description="Policies matching `flow_run_notification_policy_filter` (its `is_active` defaults to `{eq_: false}`).",
        request=PoliciesFilterRequest,
        responses={200: PolicySerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        data = self.body(PoliciesFilterRequest)
        return self.page(selectors.notification_policies_matching(filters=data).order_by("id"), data)
