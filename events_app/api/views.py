"""The events routes of the 2.20 API: record a batch, filter (and page on), count by
time, name or resource. Each parses, calls one service or selector, renders."""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from events_app.api.serializers import (
    COUNTABLE_FIELD,
    CountEventsBody,
    EventCountSerializer,
    EventFilterSerializer,
    EventPageSerializer,
    EventSerializer,
    ReadEventsBody,
    default_filter,
)
from events_app.models import Event
from events_app.schema import EventsInvalid, event_json, iso, parse_events
from events_app.selectors import EventPage, events_page
from events_app.selectors.counts import InvalidCountParameters, event_counts
from events_app.services.record import record_events
from orion_project.api.actions import route
from orion_project.api.errors import DetailError, RequestValidationError, pydantic_errors
from orion_project.api.viewsets import OrionViewSet

PAGE_TOKEN_SALT = "orion.events.page"
FORBIDDEN = "Forbidden"


def _filter_json(filters: dict[str, Any]) -> dict[str, Any]:
    """A validated filter as JSON its serializer reads back the same (for page tokens)."""
    occurred = filters["occurred"]
    document = {key: value for key, value in filters.items() if value is not None and key != "occurred"}
    if (ids := document.get("id")) and ids.get("id"):
        document["id"] = {"id": [str(item) for item in ids["id"]]}
    if (related := document.get("related")) and related.get("resources_in_roles"):
        document["related"] = {
            **related,
            "resources_in_roles": [list(pair) for pair in related["resources_in_roles"]],
        }
    return {**document, "occurred": {"since": iso(occurred["since"]), "until": iso(occurred["until"])}}


def page_token(*, filters: dict[str, Any], limit: int, position: dict[str, Any], workspace_id: int) -> str:
    """An opaque token for the next page: the filter with its window fixed, where the page
    starts, and the workspace it belongs to, signed so it cannot be forged or moved."""
    payload = {"w": workspace_id, "f": _filter_json(filters), "n": limit, "p": position}
    return signing.dumps(payload, salt=PAGE_TOKEN_SALT, compress=True)


def read_page_token(token: str, *, workspace_id: int) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """The filter, page size and position of a token this workspace was given; 403
    (as the reference answers a token it cannot read) for any other."""
    try:
        payload = signing.loads(token, salt=PAGE_TOKEN_SALT)
    except signing.BadSignature:
        raise DetailError(FORBIDDEN, status.HTTP_403_FORBIDDEN) from None
    if not isinstance(payload, dict) or payload.get("w") != workspace_id:
        raise DetailError(FORBIDDEN, status.HTTP_403_FORBIDDEN)
    filters = dict(EventFilterSerializer().run_validation(payload["f"]))
    return filters, payload["n"], payload["p"]


class EventViewSet(OrionViewSet):
    """``/events``: record, filter, page and count the workspace's events."""

    queryset = Event.objects.none()
    schema_tags = ("Events",)

    @route(
        "create_events",
        "Record a batch of Events",
        request=EventSerializer(many=True),
        responses={204: None},
    )
    def create_events(self, request: Request) -> Response:
        try:
            events = parse_events(request.data)
        except EventsInvalid as invalid:
            errors = [{**error, "loc": ["body", *error["loc"]]} for error in invalid.errors]
            raise RequestValidationError(errors, request.data) from None
        with transaction.atomic():
            record_events(events, workspace_id=self.workspace_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @route(
        "read_events",
        "Queries for Events matching the given filter criteria in the given Account. Returns the first "
        "page of results, and the URL to request the next page (if there are more results).",
        post="filter",
        request=ReadEventsBody,
        responses={200: EventPageSerializer},
    )
    def read_events(self, request: Request) -> Response:
        data = self.body(ReadEventsBody)
        filters = data.get("filter") or default_filter()
        page = events_page(filters=filters, limit=data["limit"], workspace_id=self.workspace_id)
        return self._page(page, filters, data["limit"])

    @route(
        "read_account_events_page",
        "Returns the next page of Events for a previous query against the given Account, and the URL "
        "to request the next page (if there are more results).",
        get="filter/next",
        url_name="filter-next",
        parameters=[OpenApiParameter("page-token", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True)],
        # 403: a token this server did not give, or gave in another workspace (as the
        # reference answers an unreadable token, which its document does not list).
        responses={200: EventPageSerializer, 403: OpenApiResponse(description="Forbidden")},
    )
    def read_next_page(self, request: Request) -> Response:
        token = request.query_params.get("page-token")
        if token is None:
            missing = [{"loc": ["query", "page-token"], "msg": "field required", "type": "value_error.missing"}]
            raise RequestValidationError(missing, None)
        filters, limit, position = read_page_token(token, workspace_id=self.workspace_id)
        page = events_page(filters=filters, limit=limit, workspace_id=self.workspace_id, position=position)
        return self._page(page, filters, limit)

    @route(
        "count_account_events",
        "Returns distinct objects and the count of events associated with them. Objects that can be "
        "counted include the day the event occurred, the type of event, or the IDs of the resources "
        "associated with the event.",
        post=r"count-by/(?P<countable>[^/]+)",
        url_name="count-by",
        parameters=[OpenApiParameter("countable", str, OpenApiParameter.PATH, enum=list(COUNTABLE_FIELD.choices))],
        request=CountEventsBody,
        responses={200: EventCountSerializer(many=True)},
    )
    def count_by(self, request: Request, countable: str) -> Response:
        errors = _countable_errors(countable)
        try:
            data = self.body(CountEventsBody)
        except RequestValidationError as invalid:
            raise RequestValidationError([*errors, *invalid.errors], request.data) from None
        if errors:
            raise RequestValidationError(errors, request.data)
        try:
            counts = event_counts(
                filters=data["filter"],
                countable=countable,
                time_unit=data["time_unit"],
                time_interval=data["time_interval"],
                workspace_id=self.workspace_id,
                now=timezone.now(),
            )
        except InvalidCountParameters as error:
            raise DetailError(str(error), status.HTTP_422_UNPROCESSABLE_ENTITY) from None
        return Response(
            [
                {"value": value, "label": label, "count": count, "start_time": start, "end_time": end}
                for value, label, count, start, end in counts
            ]
        )

    def _page(self, page: EventPage, filters: dict[str, Any], limit: int) -> Response:
        next_page = None
        if page.next_position is not None:
            token = page_token(
                filters=filters, limit=limit, position=page.next_position, workspace_id=self.workspace_id
            )
            prefix = self.request.workspace.api_prefix  # type: ignore[attr-defined]
            next_page = self.request.build_absolute_uri(f"{prefix}/events/filter/next?page-token={token}")
        events = [event_json(row) for row in page.events]
        return Response({"events": events, "total": page.total, "next_page": next_page})


def _countable_errors(countable: str) -> list[dict[str, Any]]:
    """The path's ``countable`` checked as the reference checks it (before the body)."""
    try:
        COUNTABLE_FIELD.run_validation(countable)
    except serializers.ValidationError as error:
        return pydantic_errors(error.detail, ("path", "countable"))
    return []
