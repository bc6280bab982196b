"""Events in the API's shape: the ``Event`` documents clients send (validated into
:class:`~events_app.services.record.NewEvent`) and the ``ReceivedEvent`` answers.

Every door that takes events (``POST /events``, the ``/events/in`` websocket) parses them
here, so they accept and refuse the same documents. This runs once per event on the
ingest path, so it is plain dictionary work, not a serializer per event.

The limits are the 2.20 reference's (its settings ``PREFECT_EVENTS_MAXIMUM_*``):

* at most :data:`MAX_LABELS_PER_RESOURCE` labels on the resource and on each related one;
* at most :data:`MAX_RELATED_RESOURCES` related resources;
* an event whose JSON is over :data:`MAX_EVENT_BYTES` bytes is dropped, not refused: the
  reference answers 204 for the batch and stores the others (its publisher logs and skips
  such an event), and so do we;
* an event name of at most :data:`MAX_EVENT_NAME_LENGTH` characters (the column's width;
  the reference stores any length, so this one limit is ours, refused with pydantic's
  ``max_length`` error).

Errors have the reference's (pydantic's) wording and locations, relative to the list of
events (``[0, "resource", "__root__"]``); the HTTP view puts ``"body"`` in front.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from events_app.models import Event
from events_app.services.record import RESOURCE_ID_LABEL, RESOURCE_ROLE_LABEL, NewEvent
from orion_project.clock import DateTimeFormatError, DateTimeRangeError, parse_datetime
from orion_project.json_values import MAX_JSON_DEPTH, json_too_deep_at, json_within_depth

logger = logging.getLogger("orion.events")

MAX_LABELS_PER_RESOURCE = 500
MAX_RELATED_RESOURCES = 500
MAX_EVENT_BYTES = 1_500_000
MAX_EVENT_NAME_LENGTH: int = Event._meta.get_field("event").max_length  # type: ignore[assignment]

ROOT = "__root__"
Loc = tuple[str | int, ...]
T = TypeVar("T")


class EventsInvalid(ValueError):
    """The documents are not valid events; ``errors`` are pydantic's ``{loc, msg, type}``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["msg"] if errors else "invalid events")
        self.errors = errors


def _error(loc: Loc, msg: str, kind: str, **ctx: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"loc": list(loc), "msg": msg, "type": kind}
    if ctx:
        error["ctx"] = ctx
    return error


def _missing(loc: Loc) -> dict[str, Any]:
    return _error(loc, "field required", "value_error.missing")


def _none(loc: Loc) -> dict[str, Any]:
    return _error(loc, "none is not an allowed value", "type_error.none.not_allowed")


def _text(value: Any) -> str | None:
    """pydantic 1's ``str``: text as is, numbers written out, anything else refused."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _labels(value: Any, loc: Loc, errors: list[dict[str, Any]], *, related: bool) -> dict[str, str] | None:
    """A resource's labels, checked in the reference's order: the count, the id, the
    role (related only), then each value's type."""
    if value is None:
        errors.append(_none(loc))
        return None
    root = (*loc, ROOT)
    if not isinstance(value, dict):
        errors.append(_error(root, "value is not a valid dict", "type_error.dict"))
        return None
    if len(value) > MAX_LABELS_PER_RESOURCE:
        message = f"The maximum number of labels per resource is {MAX_LABELS_PER_RESOURCE}"
        errors.append(_error(root, message, "value_error"))
        return None
    for label, kind in ((RESOURCE_ID_LABEL, "Resources"), (RESOURCE_ROLE_LABEL, "Related Resources")):
        if label == RESOURCE_ROLE_LABEL and not related:
            break
        if label not in value:
            errors.append(_error(root, f"{kind} must include the {label} label", "value_error"))
            return None
        if not value[label]:
            errors.append(_error(root, f"The {label} label must be non-empty", "value_error"))
            return None
    labels: dict[str, str] = {}
    failed = False
    for key, item in value.items():
        text = _text(item)
        if text is None:
            errors.append(_error((*root, key), "str type expected", "type_error.str"))
            failed = True
        else:
            labels[key] = text
    return None if failed else labels


def _uuid(value: Any, loc: Loc, errors: list[dict[str, Any]]) -> uuid.UUID | None:
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    errors.append(_error(loc, "value is not a valid uuid", "type_error.uuid"))
    return None


class EventTimeError(ValueError):
    """A value that is not a timestamp, with the reference's message and error type."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def parse_event_time(value: Any) -> dt.datetime:
    """A timestamp of an event or an event filter as the reference reads one: ISO text
    only (no epoch seconds), naive taken as UTC; :class:`EventTimeError` otherwise."""
    if not isinstance(value, str):
        raise EventTimeError("Unrecognized datetime.", "value_error")
    try:
        return parse_datetime(value)
    except DateTimeFormatError:
        raise EventTimeError(f"Unable to parse string [{value}]", "value_error.parser") from None
    except DateTimeRangeError as error:
        raise EventTimeError(str(error), "value_error.parser") from None


def _occurred(value: Any, loc: Loc, errors: list[dict[str, Any]]) -> dt.datetime | None:
    try:
        return parse_event_time(value)
    except EventTimeError as error:
        errors.append(_error(loc, error.message, error.kind))
        return None


def _required(
    item: dict[str, Any], key: str, loc: Loc, errors: list[dict[str, Any]], parse: Callable[..., T | None]
) -> T | None:
    """A field with no default: missing and null are errors, else ``parse`` reads it."""
    if key not in item:
        errors.append(_missing((*loc, key)))
    elif item[key] is None:
        errors.append(_none((*loc, key)))
    else:
        return parse(item[key], (*loc, key), errors)
    return None


def _one(item: Any, loc: Loc, errors: list[dict[str, Any]]) -> NewEvent | None:
    """One event document, or ``None`` with its errors added (every field is checked, as
    pydantic reports all of an object's errors at once)."""
    if not isinstance(item, dict):
        errors.append(_error(loc, "value is not a valid dict", "type_error.dict"))
        return None
    before = len(errors)

    occurred = _required(item, "occurred", loc, errors, _occurred)

    name = None
    if "event" not in item:
        errors.append(_missing((*loc, "event")))
    elif item["event"] is None:
        errors.append(_none((*loc, "event")))
    elif (name := _text(item["event"])) is None:
        errors.append(_error((*loc, "event"), "str type expected", "type_error.str"))
    elif len(name) > MAX_EVENT_NAME_LENGTH:
        message = f"ensure this value has at most {MAX_EVENT_NAME_LENGTH} characters"
        errors.append(
            _error((*loc, "event"), message, "value_error.any_str.max_length", limit_value=MAX_EVENT_NAME_LENGTH)
        )

    resource = None
    if "resource" not in item:
        errors.append(_missing((*loc, "resource")))
    else:
        resource = _labels(item["resource"], (*loc, "resource"), errors, related=False)

    related: list[dict[str, str]] = []
    raw_related = item.get("related", [])
    if raw_related is None:
        errors.append(_none((*loc, "related")))
    elif not isinstance(raw_related, list):
        errors.append(_error((*loc, "related"), "value is not a valid list", "type_error.list"))
    else:
        related_errors = len(errors)
        for index, labels in enumerate(raw_related):
            checked = _labels(labels, (*loc, "related", index), errors, related=True)
            if checked is not None:
                related.append(checked)
        if len(errors) == related_errors and len(related) > MAX_RELATED_RESOURCES:
            message = f"The maximum number of related resources is {MAX_RELATED_RESOURCES}"
            errors.append(_error((*loc, "related"), message, "value_error"))

    payload = item.get("payload", {})
    if payload is None:
        errors.append(_none((*loc, "payload")))
    elif not isinstance(payload, dict):
        errors.append(_error((*loc, "payload"), "value is not a valid dict", "type_error.dict"))

    event_id = _required(item, "id", loc, errors, _uuid)

    follows = None
    if item.get("follows") is not None:
        follows = _uuid(item["follows"], (*loc, "follows"), errors)

    if len(errors) > before:
        return None
    assert name is not None and resource is not None
    return NewEvent(name, resource, related, payload, occurred, event_id, follows)


def parse_events(data: Any) -> list[NewEvent]:
    """The events of a ``POST /events`` body (a list of ``Event`` documents), validated as
    the reference does; :class:`EventsInvalid` with every error if any is invalid, so a
    batch is stored whole or not at all. Events over :data:`MAX_EVENT_BYTES` are left out."""
    if data is None:
        raise EventsInvalid([_missing(())])
    if not isinstance(data, list):
        raise EventsInvalid([_error((), "value is not a valid list", "type_error.list")])
    errors: list[dict[str, Any]] = []
    events: list[NewEvent] = []
    for index, item in enumerate(data):
        new = _one(item, (index,), errors)
        if new is None:
            continue
        if _too_large(item):
            logger.warning("Dropped event %s of more than %s bytes", new.id, MAX_EVENT_BYTES)
            continue
        events.append(new)
    if errors:
        raise EventsInvalid(errors)
    return events


def parse_event(data: Any) -> NewEvent | None:
    """One ``Event`` document (a websocket message); ``None`` when it is over the size
    limit and so dropped, :class:`EventsInvalid` when it is not a valid event.

    A message nested deeper than an HTTP body may be is refused as the body parser
    refuses it: stored, it could not be written back into any answer."""
    if not json_within_depth(data):
        path = json_too_deep_at(data) or ()
        message = f"ensure this value is nested at most {MAX_JSON_DEPTH} levels deep"
        raise EventsInvalid([_error(tuple(path), message, "value_error.json.max_depth", limit_value=MAX_JSON_DEPTH)])
    events = parse_events([data])
    return events[0] if events else None


def _too_large(item: dict[str, Any]) -> bool:
    try:
        return len(orjson.dumps(item)) > MAX_EVENT_BYTES
    except TypeError:  # not JSON (an integer past 64 bits): measured as Python writes it
        return len(repr(item)) > MAX_EVENT_BYTES


def iso(moment: dt.datetime) -> str:
    """A timestamp as the reference writes it: UTC, ``+00:00``, microseconds when any."""
    return moment.astimezone(dt.UTC).isoformat()


def event_json(row: Event) -> dict[str, Any]:
    """A stored event in the API's ``ReceivedEvent`` shape."""
    return {
        "occurred": iso(row.occurred),
        "event": row.event,
        "resource": row.resource,
        "related": row.related,
        "payload": row.payload,
        "id": str(row.uuid),
        "follows": None if row.follows is None else str(row.follows),
        "received": iso(row.received),
    }
