"""The trigger documents of an automation: event triggers (reactive or proactive) and
the composite triggers (``compound``: some number of children; ``sequence``: all of
them, in order) that hold other triggers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from automations_app.schema.model import (
    Field,
    Invalid,
    Kind,
    Loc,
    Model,
    constant,
    described,
    dict_of,
    duration,
    integer,
    list_of,
    one_of,
    set_of,
    string,
    uuid_text,
)

REACTIVE = "Reactive"
PROACTIVE = "Proactive"
# Proactive triggers look for the absence of events, so they need a window to look in.
PROACTIVE_MIN_WITHIN = dt.timedelta(seconds=10)

# A resource specification: label → a value or a list of values (``*`` ends a prefix).
resource_specification = dict_of(one_of(string, list_of(string)))


def _specification(value: Any, loc: Loc) -> dict[str, Any]:
    # The reference wraps the mapping in a root model, so its errors sit under __root__.
    return resource_specification(value, (*loc, "__root__"))  # type: ignore[no-any-return]


described(_specification, {"$ref": "#/components/schemas/ResourceSpecification"})


def _seconds(value: dt.timedelta) -> float:
    return value.total_seconds()


def _not_negative(value: dt.timedelta) -> dt.timedelta:
    if value.total_seconds() < 0:
        raise ValueError("The minimum within is 0 seconds")
    return value


def _proactive_window(values: dict[str, Any]) -> dict[str, Any]:
    """A proactive trigger without a window gets the minimum one; a shorter one is refused."""
    if values.get("posture") == PROACTIVE:
        within = values.get("within")
        if not within:
            values["within"] = PROACTIVE_MIN_WITHIN
        elif within < PROACTIVE_MIN_WITHIN:
            raise ValueError("The minimum within for Proactive triggers is 10 seconds")
    return values


def _trigger_id() -> str:
    return str(uuid.uuid4())


def _id_field() -> Field:
    return Field("id", uuid_text, default=_trigger_id)


EVENT_TRIGGER = Model(
    "EventTrigger",
    (
        Field("type", constant("event"), default="event"),
        _id_field(),
        Field("match", _specification, default=dict),
        Field("match_related", _specification, default=dict),
        Field("after", set_of(string), default=list),
        Field("expect", set_of(string), default=list),
        Field("for_each", set_of(string), default=list),
        Field(
            "posture",
            constant(REACTIVE, PROACTIVE, shown="Posture.Reactive, Posture.Proactive"),
        ),
        Field("threshold", integer, default=1),
        Field("within", duration, default=dt.timedelta(0), checks=(_not_negative,)),
    ),
    checks=((_proactive_window, True),),
)


def _require_in_range(values: dict[str, Any]) -> dict[str, Any]:
    require = values.get("require")
    if isinstance(require, int):
        if require < 1:
            raise ValueError("required must be at least 1")
        if "triggers" in values and require > len(values["triggers"]):
            raise ValueError("required must be less than or equal to the number of triggers")
    return values


def _trigger(value: Any, loc: Loc) -> dict[str, Any]:
    """Any trigger (children of composite triggers are triggers too)."""
    return TRIGGER(value, loc)  # type: ignore[no-any-return]


described(
    _trigger,
    {
        "anyOf": [
            {"$ref": "#/components/schemas/EventTrigger"},
            {"$ref": "#/components/schemas/CompoundTrigger"},
            {"$ref": "#/components/schemas/SequenceTrigger"},
        ]
    },
)

_children = Field("triggers", list_of(_trigger))
_window = Field("within", duration, nullable=True)
COMPOUND_TRIGGER = Model(
    "CompoundTrigger",
    (
        Field("type", constant("compound"), default="compound"),
        _id_field(),
        _children,
        _window,
        Field("require", one_of(integer, constant("any", "all"))),
    ),
    checks=((_require_in_range, False),),
)
SEQUENCE_TRIGGER = Model(
    "SequenceTrigger",
    (Field("type", constant("sequence"), default="sequence"), _id_field(), _children, _window),
)
TRIGGER: Kind = one_of(EVENT_TRIGGER, COMPOUND_TRIGGER, SEQUENCE_TRIGGER)


def trigger_json(trigger: dict[str, Any]) -> dict[str, Any]:
    """A validated trigger as stored and answered: windows in seconds, children likewise."""
    answer = dict(trigger)
    if answer.get("within") is not None:
        answer["within"] = _seconds(answer["within"])
    if "triggers" in answer:
        answer["triggers"] = [trigger_json(child) for child in answer["triggers"]]
    return answer


def all_triggers(trigger: dict[str, Any]) -> list[dict[str, Any]]:
    """The trigger and every trigger below it, parents before children."""
    return [trigger, *(found for child in trigger.get("triggers", ()) for found in all_triggers(child))]


def reset_ids(trigger: dict[str, Any]) -> None:
    """Give the trigger and all its children new ids (what a client sent is not kept)."""
    for found in all_triggers(trigger):
        found["id"] = _trigger_id()


def matches_every_resource_of_kind(specification: dict[str, Any], prefix: str) -> bool:
    """Whether a specification lets through every resource whose id starts ``prefix.``."""
    if not specification:
        return True
    if len(specification) == 1 and (ids := specification.get("prefect.resource.id")):
        return any(value == f"{prefix}.*" for value in ([ids] if isinstance(ids, str) else ids))
    return False


__all__ = ["TRIGGER", "Invalid", "all_triggers", "reset_ids", "trigger_json"]
