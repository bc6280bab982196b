"""The bodies of the events routes (``EventFilter`` and the count-by parameters) and the
shapes of their answers, for validation and for the OpenAPI document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events_app.schema import EventTimeError, parse_event_time
from events_app.selectors.counts import COUNTABLES, MIN_INTERVAL, TIME_UNITS
from orion_project.api.fields import (
    BoolField,
    DateTimeField,
    EnumField,
    FloatField,
    IntField,
    LenientBodySerializer,
    ListField,
    OptionalFieldMixin,
    StrField,
    StrictSerializer,
    UUIDField,
)

PAGE_SIZE = 50
# How far back a filter looks when it names no start: the reference's 180 days before today.
DEFAULT_LOOKBACK_DAYS = 180


def _strings(**kwargs: Any) -> ListField:
    return ListField(child=StrField(allow_null=False), **kwargs)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    }
)
class ResourceSpecificationField(OptionalFieldMixin, serializers.Field):
    """Labels to match, each to one value or a list of them (``!`` negates, ``*`` ends a
    prefix); read as lists."""

    default_error_messages = {
        "type_error.dict": "value is not a valid dict",
        "type_error.str": "str type expected",
    }

    def to_internal_value(self, data: Any) -> dict[str, list[str]]:
        if not isinstance(data, Mapping):
            self.fail("type_error.dict")
        labels: dict[str, list[str]] = {}
        for label, value in data.items():
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(item, str) for item in values):
                raise serializers.ValidationError(
                    {label: [serializers.ErrorDetail("str type expected", "type_error.str")]}
                )
            labels[label] = list(values)
        return labels

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(
    {"type": "array", "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}}}
)
class ResourceRolePairsField(OptionalFieldMixin, serializers.Field):
    """``[[resource id, role], ...]``."""

    default_error_messages = {
        "type_error.list": "value is not a valid list",
        "type_error.tuple": "value is not a valid tuple",
    }

    def to_internal_value(self, data: Any) -> list[tuple[str, str]]:
        if not isinstance(data, list):
            self.fail("type_error.list")
        pairs = []
        for index, pair in enumerate(data):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(item, str) for item in pair)):
                raise serializers.ValidationError(
                    {str(index): [serializers.ErrorDetail("value is not a valid tuple", "type_error.tuple")]}
                )
            pairs.append((pair[0], pair[1]))
        return pairs

    def to_representation(self, value: Any) -> Any:
        return value


class EventTimeField(DateTimeField):
    """A timestamp read as the reference reads an event's (its messages too)."""

    def to_internal_value(self, data: Any) -> dt.datetime:
        try:
            return parse_event_time(data)
        except EventTimeError as error:
            raise serializers.ValidationError([serializers.ErrorDetail(error.message, error.kind)]) from None


class EventOccurredFilterSerializer(StrictSerializer):
    """``since`` .. ``until``, both included."""

    since = EventTimeField(help_text="Only include events after this time (inclusive)")
    until = EventTimeField(help_text="Only include events prior to this time (inclusive)")


class EventNameFilterSerializer(StrictSerializer):
    prefix = _strings(help_text="Only include events matching one of these prefixes")
    exclude_prefix = _strings(help_text="Exclude events matching one of these prefixes")
    name = _strings(help_text="Only include events matching one of these names exactly")
    exclude_name = _strings(help_text="Exclude events matching one of these names exactly")


class EventResourceFilterSerializer(StrictSerializer):
    id = _strings(help_text="Only include events for resources with these IDs")
    id_prefix = _strings(help_text="Only include events for resources with IDs starting with these prefixes.")
    labels = ResourceSpecificationField(help_text="Only include events for resources with these labels")
    distinct = BoolField(default=False, help_text="Only include events for distinct resources")


class EventRelatedFilterSerializer(StrictSerializer):
    id = _strings(help_text="Only include events for related resources with these IDs")
    role = _strings(help_text="Only include events for related resources in these roles")
    resources_in_roles = ResourceRolePairsField(
        help_text="Only include events with specific related resources in specific roles"
    )
    labels = ResourceSpecificationField(help_text="Only include events for related resources with these labels")


class EventAnyResourceFilterSerializer(StrictSerializer):
    id = _strings(help_text="Only include events for resources with these IDs")
    id_prefix = _strings(help_text="Only include events for resources with IDs starting with these prefixes")
    labels = ResourceSpecificationField(help_text="Only include events for related resources with these labels")


class EventIDFilterSerializer(StrictSerializer):
    id = ListField(child=UUIDField(allow_null=False), help_text="Only include events with one of these IDs")


class EventFilterSerializer(StrictSerializer):
    """Which events: when they occurred (by default the last 180 days up to now), their
    names, resources, related resources, ids; and in which order."""

    occurred = EventOccurredFilterSerializer(required=False, allow_null=True)
    event = EventNameFilterSerializer(required=False, allow_null=True)
    any_resource = EventAnyResourceFilterSerializer(required=False, allow_null=True)
    resource = EventResourceFilterSerializer(required=False, allow_null=True)
    related = EventRelatedFilterSerializer(required=False, allow_null=True)
    id = EventIDFilterSerializer(required=False, allow_null=True)
    order = EnumField(("ASC", "DESC"), default="DESC", help_text="The order to return filtered events")

    def to_internal_value(self, data: Any) -> Any:
        value = dict(super().to_internal_value(data))
        now = dt.datetime.now(dt.UTC)
        occurred = dict(value.get("occurred") or {})
        if occurred.get("since") is None:
            today = now.replace(hour=0, minute=0, second=0, microsecond=0)
            occurred["since"] = today - dt.timedelta(days=DEFAULT_LOOKBACK_DAYS)
        if occurred.get("until") is None:
            occurred["until"] = now
        value["occurred"] = occurred
        value["order"] = value.get("order") or "DESC"
        return value


def default_filter() -> dict[str, Any]:
    """The filter of a body that sends none."""
    return dict(EventFilterSerializer().run_validation({}))


class ReadEventsBody(LenientBodySerializer):
    """Body of ``POST /events/filter``."""

    filter = EventFilterSerializer(
        required=False,
        allow_null=True,
        help_text="Additional optional filter criteria to narrow down the set of Events",
    )
    limit = IntField(
        min_value=0, max_value=PAGE_SIZE, default=PAGE_SIZE, help_text="The number of events to return with each page"
    )


class CountEventsBody(LenientBodySerializer):
    """Body of ``POST /events/count-by/{countable}``."""

    filter = EventFilterSerializer(required=True, allow_null=False)
    time_unit = EnumField(tuple(TIME_UNITS), default="day")
    time_interval = FloatField(min_value=MIN_INTERVAL, default=1.0)


COUNTABLE_FIELD = EnumField(COUNTABLES, required=True, allow_null=False)


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class LabelsField(serializers.DictField):
    """A resource's labels (the OpenAPI shape of ``Resource``)."""


class EventSerializer(serializers.Serializer):
    """An event as a client sends it (``POST /events``; validated by
    :func:`events_app.schema.parse_events`, this only documents it)."""

    occurred = serializers.DateTimeField(help_text="When the event happened from the sender's perspective")
    event = serializers.CharField(help_text="The name of the event that happened")
    resource = LabelsField(help_text="The primary Resource this event concerns")
    related = serializers.ListField(
        child=LabelsField(), help_text="A list of additional Resources involved in this event"
    )
    payload = serializers.DictField(help_text="An open-ended set of data describing what happened")
    id = serializers.UUIDField(help_text="The client-provided identifier of this event")
    follows = serializers.UUIDField(
        required=False, allow_null=True, help_text="The ID of an event known to have occurred before this one"
    )


class ReceivedEventSerializer(EventSerializer):
    """An event as the server received it (the answers' ``ReceivedEvent``)."""

    received = serializers.DateTimeField(help_text="When the event was received by the server")


class EventPageSerializer(serializers.Serializer):
    """A page of events and the URL of the next one (``null``: this is the last)."""

    events = ReceivedEventSerializer(many=True, help_text="The Events matching the query")
    total = serializers.IntegerField(help_text="The total number of matching Events")
    next_page = serializers.URLField(
        allow_null=True, help_text="The URL for the next page of results, if there are more"
    )


class EventCountSerializer(serializers.Serializer):
    """How many of the matching events have one value of the counted property."""

    value = serializers.CharField(help_text="The value to use for filtering")
    label = serializers.CharField(help_text="The value to display for this count")  # type: ignore[assignment]
    count = serializers.IntegerField(help_text="The count of matching events")
    start_time = serializers.DateTimeField(help_text="The start time of this group of events")
    end_time = serializers.DateTimeField(help_text="The end time of this group of events")
