"""One action to run, read from its ``ActionRun`` row: the reference's ``TriggeredAction``.

Everything the action kinds and the templates know about the firing comes through
:class:`Invocation`, so the firing document's shape is read in one place (see the package
docstring for it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_datetime

from automations_app.models import ActionRun

RESOURCE_ID = "prefect.resource.id"
RESOURCE_ROLE = "prefect.resource.role"
RESOURCE_NAME = "prefect.resource.name"


class ActionFailed(Exception):
    """The action cannot be done; ``reason`` goes into the ``action.failed`` event.

    ``retryable`` failures (a network error, a 5xx from a notification service, a database
    outage) are tried again with backoff; the others fail at once, as the reference's
    ``ActionFailed`` does.
    """

    def __init__(self, reason: str, *, retryable: bool = False, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.details = dict(details or {})


@dataclass
class Invocation:
    """The action of one firing with what it may read, and what running it produced:
    ``related`` resources and ``details`` for the payload of the outcome event."""

    id: uuid.UUID
    workspace_id: int
    action: dict[str, Any]
    action_index: int
    automation: dict[str, Any]
    firing: dict[str, Any]
    triggered: dt.datetime | None
    triggering_labels: dict[str, str]
    triggering_event: dict[str, Any] | None
    related: list[dict[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, run: ActionRun) -> Invocation:
        document: Mapping[str, Any] = run.firing or {}
        firing = dict(document.get("firing") or {})
        automation = dict(document.get("automation") or {})
        if not automation and run.automation is not None:
            row = run.automation
            automation = {"id": str(row.id), "name": row.name, "description": row.description, "trigger": row.trigger}
        automation.setdefault("id", str(run.automation_id) if run.automation_id else "")
        labels = document.get("triggering_labels", firing.get("triggering_labels")) or {}
        event = document.get("triggering_event", firing.get("triggering_event"))
        triggered = document.get("triggered") or firing.get("triggered")
        return cls(
            id=run.id,
            workspace_id=run.workspace_id,
            action=dict(run.action),
            action_index=run.action_index,
            automation=automation,
            firing=firing,
            triggered=parse_datetime(triggered) if isinstance(triggered, str) else None,
            triggering_labels=dict(labels),
            triggering_event=dict(event) if event else None,
        )

    @property
    def automation_id(self) -> str:
        return str(self.automation.get("id") or "")

    def all_firings(self) -> list[dict[str, Any]]:
        """The firing and, depth first, those of the child triggers that made it fire."""
        return _firings(self.firing) if self.firing else []

    def all_events(self) -> list[dict[str, Any]]:
        """The triggering event of every firing in :meth:`all_firings`."""
        return [firing["triggering_event"] for firing in self.all_firings() if firing.get("triggering_event")]

    def involved_resources(self) -> list[Mapping[str, str]]:
        """The triggering event's resource, then its related resources, in order."""
        event = self.triggering_event
        if not event:
            return []
        return [event.get("resource") or {}, *(event.get("related") or [])]

    def inferred_id(self, kind: str) -> uuid.UUID | None:
        """The id of the first resource of ``kind`` (``prefect.deployment``...) the
        triggering event names, if it is a UUID."""
        for resource in self.involved_resources():
            found = id_of_kind(resource.get(RESOURCE_ID, ""), kind)
            if found is not None:
                return found
        return None

    def relate(self, resource_id: str, role: str, name: str | None = None) -> None:
        """Add a resource the action worked on to its outcome event."""
        resource = {RESOURCE_ID: resource_id, RESOURCE_ROLE: role}
        if name is not None:
            resource[RESOURCE_NAME] = name
        self.related.append(resource)


def _firings(firing: Mapping[str, Any]) -> list[dict[str, Any]]:
    children: Sequence[Mapping[str, Any]] = firing.get("triggering_firings") or []
    return [dict(firing), *(nested for child in children for nested in _firings(child))]


def id_of_kind(resource_id: str, kind: str) -> uuid.UUID | None:
    """``uuid`` of ``"<kind>.<uuid>"``; ``None`` for another kind or an id that is no UUID."""
    found_kind, _, value = resource_id.rpartition(".")
    if found_kind != kind:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
