"""Global concurrency limit routes (2.20 ``/v2/concurrency_limits/``)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.actions import filter_route, route
from orion_project.api.errors import DetailError, RouteNotFound
from orion_project.api.fields import (
    BoolField,
    EnumField,
    FloatField,
    IntField,
    LenientBodySerializer,
    ListField,
    NameField,
    NonNegativeField,
    StrField,
    StrictSerializer,
    UUIDField,
)
from orion_project.api.filtering import request_serializer
from orion_project.api.viewsets import OrionModelSerializer, OrionViewSet
from runs_app.models import GlobalConcurrencyLimit
from runs_app.selectors.global_concurrency import global_limit_get, global_limits_by_name
from runs_app.services.global_concurrency import (
    CONCURRENCY,
    MODES,
    NoDecayForRateLimitError,
    SlotsDenied,
    SlotsExceedLimitError,
    global_limit_create,
    global_limit_delete,
    global_limit_update,
    global_slots_decrement,
    global_slots_increment,
)

GLOBAL_LIMIT_NOT_FOUND = "Concurrency Limit not found"


class GlobalConcurrencyLimitSerializer(OrionModelSerializer):
    """A limit as read (``GlobalConcurrencyLimitResponse``)."""

    class Meta:
        model = GlobalConcurrencyLimit
        fields = ("id", "created", "updated", "active", "name", "limit", "active_slots", "slot_decay_per_second")


class GlobalConcurrencyLimitCreatedSerializer(OrionModelSerializer):
    """A limit as created (``ConcurrencyLimitV2``, with the bookkeeping columns)."""

    class Meta:
        model = GlobalConcurrencyLimit
        fields = (
            "id",
            "created",
            "updated",
            "active",
            "name",
            "limit",
            "active_slots",
            "denied_slots",
            "slot_decay_per_second",
            "avg_slot_occupancy_seconds",
        )


class GlobalConcurrencyLimitCreateSerializer(StrictSerializer):
    """Body of ``POST /v2/concurrency_limits/``."""

    active = BoolField(default=True, allow_null=False)
    name = NameField(required=True, allow_null=False)
    limit = NonNegativeField(required=True, allow_null=False)
    active_slots = NonNegativeField(default=0, allow_null=False)
    denied_slots = NonNegativeField(default=0, allow_null=False)
    slot_decay_per_second = NonNegativeField(integer=False, default=0.0, allow_null=False)


class GlobalConcurrencyLimitUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /v2/concurrency_limits/{id_or_name}``: only the keys sent change."""

    active = BoolField()
    name = NameField()
    limit = NonNegativeField()
    active_slots = NonNegativeField()
    denied_slots = NonNegativeField()
    slot_decay_per_second = NonNegativeField(integer=False)


class _Positive:
    """A number field that refuses zero and below (pydantic's ``gt``)."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)  # type: ignore[misc]
        if value <= 0:
            self.fail("value_error.number.not_gt")  # type: ignore[attr-defined]
        return value


class PositiveIntField(_Positive, IntField):
    """An integer > 0 (pydantic's ``gt=0``)."""

    default_error_messages = {"value_error.number.not_gt": "ensure this value is greater than 0"}


class PositiveFloatField(_Positive, FloatField):
    """A number > 0 (pydantic's ``gt=0.0``)."""

    default_error_messages = {
        **FloatField.default_error_messages,
        "value_error.number.not_gt": "ensure this value is greater than 0.0",
    }


class NamesField(ListField):
    """At least one limit name."""

    default_error_messages = {"value_error.list.min_items": "ensure this value has at least 1 items"}

    def to_internal_value(self, data: Any) -> list[Any]:
        value = super().to_internal_value(data)
        if not value:
            self.fail("value_error.list.min_items")
        return value


class ModeField(EnumField):
    """``concurrency`` or ``rate_limit`` (a ``Literal``: pydantic's ``value_error.const``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(MODES, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if data not in MODES:
            raise serializers.ValidationError(
                serializers.ErrorDetail(
                    "unexpected value; permitted: 'concurrency', 'rate_limit'", code="value_error.const"
                )
            )
        return str(data)


class SlotsIncrementSerializer(LenientBodySerializer):
    """Body of ``POST /v2/concurrency_limits/increment`` (newer clients also send
    ``create_if_missing``, which is ignored)."""

    slots = PositiveIntField(required=True, allow_null=False)
    names = NamesField(child=StrField(allow_null=False), required=True, allow_null=False)
    mode = ModeField(default=CONCURRENCY)


class SlotsDecrementSerializer(LenientBodySerializer):
    """Body of ``POST /v2/concurrency_limits/decrement``."""

    slots = PositiveIntField(required=True, allow_null=False)
    names = NamesField(child=StrField(allow_null=False), required=True, allow_null=False)
    occupancy_seconds = PositiveFloatField()


GlobalLimitsPageRequest = request_serializer("GlobalConcurrencyLimitsPageRequest", {}, paginated=True)
MinimalLimitSerializer = inline_serializer(
    "MinimalConcurrencyLimitResponse",
    {"id": UUIDField(), "name": StrField(), "limit": IntField()},
    many=True,
)


def _minimal(limits: list[GlobalConcurrencyLimit]) -> list[dict[str, Any]]:
    return [{"id": limit.id, "name": limit.name, "limit": limit.limit} for limit in limits]


def _id_or_name(value: str) -> dict[str, Any]:
    """A path value that parses as a UUID is an id, anything else a name (as in 2.20)."""
    try:
        return {"limit_id": uuid.UUID(value)}
    except ValueError:
        return {"name": value}


class GlobalConcurrencyLimitViewSet(OrionViewSet):
    """Global concurrency limits: CRUD by id or name, list, and slot increments/decrements."""

    queryset = GlobalConcurrencyLimit.objects.all()
    serializer_class = GlobalConcurrencyLimitSerializer
    lookup_url_kwarg = "id_or_name"
    not_found_detail = GLOBAL_LIMIT_NOT_FOUND
    schema_tags = ("Concurrency Limits V2",)
    # Limits called "filter", "increment" or "decrement" are reachable by name (OrionViewSet).
    names_shadowed_by_actions = dict.fromkeys(
        ("filter", "increment", "decrement"),
        ("id_or_name", {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
    )

    @route(
        "create_concurrency_limit_v2",
        request=GlobalConcurrencyLimitCreateSerializer,
        responses={201: GlobalConcurrencyLimitCreatedSerializer},
    )
    def create(self, request: Request) -> Response:
        """Create a global concurrency limit; names are unique (409)."""
        limit = global_limit_create(
            data=self.body(GlobalConcurrencyLimitCreateSerializer), workspace_id=self.workspace_id
        )
        return Response(GlobalConcurrencyLimitCreatedSerializer(limit).data, status=status.HTTP_201_CREATED)

    @route("read_concurrency_limit_v2", responses={200: GlobalConcurrencyLimitSerializer})
    def retrieve(self, request: Request, id_or_name: str) -> Response:
        """Get a limit by id or by name."""
        limit = global_limit_get(**_id_or_name(id_or_name), workspace_id=self.workspace_id)
        if limit is None:
            raise RouteNotFound(GLOBAL_LIMIT_NOT_FOUND)
        return self.read(limit)

    @route("update_concurrency_limit_v2", request=GlobalConcurrencyLimitUpdateSerializer, responses={204: None})
    def partial_update(self, request: Request, id_or_name: str) -> Response:
        """Change a limit found by id or by name."""
        changes = self.body(GlobalConcurrencyLimitUpdateSerializer)
        if not global_limit_update(changes=changes, **_id_or_name(id_or_name), workspace_id=self.workspace_id):
            raise RouteNotFound(GLOBAL_LIMIT_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route("delete_concurrency_limit_v2", responses={204: None})
    def destroy(self, request: Request, id_or_name: str) -> Response:
        """Delete a limit found by id or by name."""
        if not global_limit_delete(**_id_or_name(id_or_name), workspace_id=self.workspace_id):
            raise RouteNotFound(GLOBAL_LIMIT_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    filter = filter_route("read_all_concurrency_limits_v2", "List limits ordered by name.", GlobalLimitsPageRequest)

    def matching(self, data: dict[str, Any]) -> QuerySet[GlobalConcurrencyLimit]:
        return global_limits_by_name(workspace_id=self.workspace_id)

    @route(
        "bulk_increment_active_slots",
        post="increment",
        request=SlotsIncrementSerializer,
        responses={200: MinimalLimitSerializer},
    )
    def increment(self, request: Request) -> Response:
        """Take `slots` on every named active limit, or on none: 423 with `Retry-After` when
        they are held. Unknown names become inactive limits."""
        data = self.body(SlotsIncrementSerializer)
        try:
            limits = global_slots_increment(
                names=data["names"], slots=data["slots"], mode=data["mode"], workspace_id=self.workspace_id
            )
        except (SlotsExceedLimitError, NoDecayForRateLimitError) as error:
            raise DetailError(str(error), status.HTTP_422_UNPROCESSABLE_ENTITY) from None
        except SlotsDenied as denied:
            return Response(
                {"detail": "Locked"}, status=status.HTTP_423_LOCKED, headers={"Retry-After": str(denied.retry_after)}
            )
        return Response(_minimal(limits))

    @route(
        "bulk_decrement_active_slots",
        post="decrement",
        request=SlotsDecrementSerializer,
        responses={200: MinimalLimitSerializer},
    )
    def decrement(self, request: Request) -> Response:
        """Give back `slots` on every named active limit, recording how long they were held."""
        data = self.body(SlotsDecrementSerializer)
        limits = global_slots_decrement(
            names=data["names"],
            slots=data["slots"],
            occupancy_seconds=data.get("occupancy_seconds"),
            workspace_id=self.workspace_id,
        )
        return Response(_minimal(limits))
