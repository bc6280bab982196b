"""Automations in the reference's normalised shape, events at chosen times, and passes of
the evaluator, for the trigger tests."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from django.db import connection
from django.db.models import Max

from automations_app.background.triggers import evaluate_proactive_triggers, evaluate_triggers
from automations_app.models import ActionRun, Automation
from events_app.log import COMMIT_HORIZON_SQL
from events_app.models import Event
from events_app.services.record import NewEvent, record_events
from orion_project.models import DEFAULT_WORKSPACE_ID

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
DO_NOTHING = {"type": "do-nothing"}


def at(seconds: float) -> dt.datetime:
    """``seconds`` after the tests' origin of time."""
    return T0 + dt.timedelta(seconds=seconds)


def event_trigger(**fields: Any) -> dict[str, Any]:
    """An event trigger with every default filled in, as the reference stores one."""
    document = {
        "type": "event",
        "id": str(uuid.uuid4()),
        "match": {},
        "match_related": {},
        "after": [],
        "expect": [],
        "for_each": [],
        "posture": "Reactive",
        "threshold": 1,
        "within": 0.0,
    }
    document.update(fields)
    if document["posture"] == "Proactive" and not document["within"]:
        document["within"] = 10.0
    return document


def composite_trigger(kind: str, triggers: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A compound (``require`` in ``fields``) or sequence trigger."""
    document: dict[str, Any] = {"type": kind, "id": str(uuid.uuid4()), "triggers": triggers, "within": None}
    if kind == "compound":
        document["require"] = "all"
    document.update(fields)
    return document


def automation(trigger: dict[str, Any], *, workspace_id: int = DEFAULT_WORKSPACE_ID, **fields: Any) -> Automation:
    """A stored automation doing nothing when it fires."""
    values: dict[str, Any] = {"name": "auto", "actions": [DO_NOTHING]} | fields
    return Automation.objects.create(workspace_id=workspace_id, trigger=trigger, **values)


def send(
    name: str,
    seconds: float,
    resource: str = "prefect.flow-run.1",
    *,
    labels: dict[str, str] | None = None,
    related: list[dict[str, str]] | None = None,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> uuid.UUID:
    """Record one event that occurred ``seconds`` after the origin; its id."""
    event_id = uuid.uuid4()
    new = NewEvent(
        event=name,
        resource={"prefect.resource.id": resource, **(labels or {})},
        related=related or [],
        occurred=at(seconds),
        id=event_id,
    )
    record_events([new], workspace_id=workspace_id)
    return event_id


def react(seconds: float) -> int:
    """A reactive pass, its clock at ``seconds``, once every event sent is readable."""
    _await_commit_horizon()
    return evaluate_triggers(now=at(seconds))


def _await_commit_horizon(timeout: float = 5.0) -> None:
    """On PostgreSQL, wait until the log's commit horizon has passed the last event
    written. Another test database's transaction that ends just as the horizon is read
    is kept below it (:data:`events_app.log.COMMIT_HORIZON_SQL`: "only delays a read"),
    which would leave the pass without the events this test just sent."""
    if connection.vendor != "postgresql":
        return
    last = Event.objects.aggregate(last=Max("txid"))["last"]
    deadline = time.monotonic() + timeout
    while last is not None and time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {COMMIT_HORIZON_SQL}")
            (horizon,) = cursor.fetchone()
        if horizon > last:
            return
        time.sleep(0.01)


def proact(seconds: float) -> int:
    """A proactive pass, its clock at ``seconds``; how many triggers fired."""
    return evaluate_proactive_triggers(now=at(seconds))


def firings(auto: Automation | None = None) -> list[dict[str, Any]]:
    """The firing documents of the automation's action runs, oldest first (one per
    firing: its first action)."""
    runs = ActionRun.objects.filter(action_index=0).order_by("created", "id")
    if auto is not None:
        runs = runs.filter(automation=auto)
    return [run.firing for run in runs]


def triggering_event_ids(auto: Automation | None = None) -> list[str | None]:
    """Which event each firing of the automation names as its trigger, in order."""
    return [(firing["triggering_event"] or {}).get("id") for firing in firings(auto)]


def triggered_events() -> list[Event]:
    """The prefect.automation.triggered events recorded, oldest first."""
    return list(Event.objects.filter(event="prefect.automation.triggered").order_by("seq"))
