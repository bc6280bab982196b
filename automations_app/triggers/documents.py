"""An automation's stored trigger document read as a tree the evaluator walks.

The document is the API's normalised shape (every default filled in, every trigger with
its ``id``; see :mod:`automations_app.models`): an ``event`` trigger, or a ``compound``
or ``sequence`` trigger over child triggers. Reading it builds small objects that know
their automation and parent and answer the questions evaluation asks (does it cover an
event, does the event count, which bucket, is the threshold met).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from automations_app.matching import event_name_pattern, find_label, name_matches_any, specification_includes
from automations_app.models import Automation

REACTIVE = "Reactive"
PROACTIVE = "Proactive"
# Events the reference's evaluator never looks at: the highest-volume ones, which no
# ordering link points at.
IGNORED_EVENTS = frozenset({"prefect.log.write"})


@dataclass(eq=False)
class EventTrigger:
    """An ``event`` trigger: counts the events it expects, per bucket of ``for_each``
    values, over windows of ``within``."""

    automation: Automation
    parent: CompositeTrigger | None
    document: dict[str, Any]
    id: uuid.UUID
    match: Any
    match_related: Any
    after: frozenset[str]
    expect: frozenset[str]
    for_each: tuple[str, ...]
    posture: str
    threshold: int
    within: dt.timedelta
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        # An empty ``expect`` covers every event, even when ``after`` names some.
        self.pattern = event_name_pattern(self.expect | self.after if self.expect else ())

    @property
    def immediate(self) -> bool:
        """A reactive trigger without a window: every expected event counts at once."""
        return self.posture == REACTIVE and not self.within

    def covers(self, name: str, resource: Mapping[str, Any], related: list[Mapping[str, Any]]) -> bool:
        """Whether the event concerns this trigger at all (resources and name)."""
        return (
            specification_includes(self.match, [resource])
            and specification_includes(self.match_related, related)
            and self.pattern.match(name) is not None
        )

    def expects(self, name: str) -> bool:
        """Whether the event counts towards the threshold."""
        return not self.expect or name_matches_any(self.expect, name)

    def starts_after(self, name: str) -> bool:
        """Whether the event opens a window (``after``)."""
        return name_matches_any(self.after, name)

    def bucketing_key(self, resource: Mapping[str, Any], related: list[Mapping[str, Any]]) -> list[str]:
        """The event's values of the ``for_each`` labels, in label order ("" if absent)."""
        return [str(find_label(label, resource, related) or "") for label in self.for_each]

    def meets_threshold(self, count: int) -> bool:
        """Reactive: at least ``threshold`` events; proactive: fewer than that."""
        return count >= self.threshold if self.posture == REACTIVE else count < self.threshold


@dataclass(eq=False)
class CompositeTrigger:
    """A ``compound`` (``require``: any, all or a number) or ``sequence`` trigger: fires
    when enough of its children fired within ``within`` (for a sequence: all of them, in
    their order)."""

    automation: Automation
    parent: CompositeTrigger | None
    document: dict[str, Any]
    id: uuid.UUID
    kind: str
    within: dt.timedelta | None
    require: Any
    children: list[EventTrigger | CompositeTrigger] = field(default_factory=list)

    @property
    def expected_firings(self) -> int:
        """How many distinct children must have fired."""
        if self.kind == "compound" and self.require == "any":
            return 1
        if self.kind == "compound" and self.require != "all":
            return int(self.require)
        return len(self.children)

    def ready(self, fired_in_order: list[uuid.UUID]) -> bool:
        """Whether these child firings (their trigger ids, oldest first) fire the parent."""
        if self.kind == "sequence":
            return fired_in_order == [child.id for child in self.children]
        return len(fired_in_order) >= self.expected_firings


Trigger = EventTrigger | CompositeTrigger


def read_trigger(automation: Automation, document: dict[str, Any], parent: CompositeTrigger | None = None) -> Trigger:
    """The trigger tree of ``document`` (an automation's ``trigger``)."""
    trigger_id = uuid.UUID(str(document["id"]))
    if document.get("type") in ("compound", "sequence"):
        within = document.get("within")
        composite = CompositeTrigger(
            automation=automation,
            parent=parent,
            document=document,
            id=trigger_id,
            kind=document["type"],
            within=None if within is None else dt.timedelta(seconds=float(within)),
            require=document.get("require", "all"),
        )
        composite.children = [read_trigger(automation, child, composite) for child in document.get("triggers", [])]
        return composite
    return EventTrigger(
        automation=automation,
        parent=parent,
        document=document,
        id=trigger_id,
        match=document.get("match") or {},
        match_related=document.get("match_related") or {},
        after=frozenset(document.get("after") or ()),
        expect=frozenset(document.get("expect") or ()),
        for_each=tuple(sorted(document.get("for_each") or ())),
        posture=document.get("posture", REACTIVE),
        threshold=int(document.get("threshold", 1)),
        within=dt.timedelta(seconds=float(document.get("within") or 0)),
    )


def event_triggers(trigger: Trigger) -> Iterator[EventTrigger]:
    """Every event trigger of the tree, depth first."""
    if isinstance(trigger, EventTrigger):
        yield trigger
    else:
        for child in trigger.children:
            yield from event_triggers(child)


def bucket_text(key: list[str]) -> str:
    """A bucketing key as the text the bucket table's unique constraint compares."""
    return json.dumps(key, separators=(",", ":"))
