"""Evaluating triggers: what an event (reactive) or the clock (proactive) does to a
trigger's buckets, when a trigger fires, and what a firing leaves behind.

The semantics are the reference's. Each event trigger keeps at most one open bucket per
bucketing key (its ``for_each`` values): a window ``[start, end)`` and the count of
expected events in it.

- **Reactive** triggers fire as soon as a window holds ``threshold`` events, then ignore
  events until that window ends, when the next one starts. Without ``within`` (0) every
  expected event counts at once and there is no window.
- **Proactive** triggers fire when a window *ends* holding fewer than ``threshold``
  events; the clock (:func:`evaluate_proactive`) closes windows and opens the next.
- **after**: a window opens only when an ``after`` event is seen, and closes (without
  a next one) when it ends or fires.
- **Compound and sequence** triggers: a child's firing is kept
  (:class:`~automations_app.models.CompositeTriggerChildFiring`) until enough siblings
  fired within the parent's ``within`` (for a sequence, all of them in order).

A firing of the automation's top trigger emits ``prefect.automation.triggered`` and
writes one :class:`~automations_app.models.ActionRun` per action, ``actions`` first,
then ``actions_on_trigger``, numbered in that order (``action_index``). (The reference
never takes an event, compound or sequence trigger back to a resolved state, so neither
does this evaluator: ``actions_on_resolve`` waits for a kind of trigger that resolves.)

The ``firing`` document of an ActionRun, which the action runner and its templates read
(datetimes as ISO 8601 text, events in the API's ``ReceivedEvent`` shape)::

    {
      "automation": {"id", "name", "description", "enabled", "trigger", "actions",
                     "actions_on_trigger", "actions_on_resolve"},   # as when it fired
      "triggered": "<when the trigger fired>",
      "triggering_labels": {"<for_each label>": "<value>", ...},
      "triggering_event": <event> | null,   # for "actions": the event that fired the
                                            # trigger (a proactive one: the last event
                                            # its bucket saw); for "actions_on_trigger":
                                            # the prefect.automation.triggered event
      "firing": <firing>
    }

and a firing (also what a composite trigger keeps of each child's)::

    {"id", "trigger": <trigger document>, "trigger_states": ["Triggered"], "triggered",
     "triggering_labels", "triggering_firings": [<firing>, ...], "triggering_event",
     "triggering_value": null}

The row's own ``id`` is the invocation the reference's action events name; ``action``
and ``action_index`` are columns of the row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.db import connection
from django.db.models import Value

from automations_app.models import ActionRun, Automation, CompositeTriggerChildFiring
from automations_app.triggers.buckets import Bucket, BucketStore
from automations_app.triggers.documents import (
    PROACTIVE,
    REACTIVE,
    CompositeTrigger,
    EventTrigger,
    Trigger,
)
from events_app.models import Event
from events_app.schema import event_json, iso
from events_app.services.record import NewEvent, record_events

# How far before an expected event a trigger's first window starts, so that events
# recorded a little out of order still count in it (the reference's look-back).
FIRST_WINDOW_LOOKBACK = dt.timedelta(minutes=15)

TRIGGERED = "Triggered"
PHASE_TRIGGERED = "triggered"


# What a firing keeps of its automation (besides its id), as the API answers them.
_AUTOMATION_FIELDS = (
    "name", "description", "enabled", "trigger", "actions", "actions_on_trigger", "actions_on_resolve",
)  # fmt: skip


def automation_document(automation: Automation) -> dict[str, Any]:
    """The automation as a firing records it."""
    return {"id": str(automation.id)} | {name: getattr(automation, name) for name in _AUTOMATION_FIELDS}


class Evaluation:
    """One pass's evaluation: its clock, its buckets and the effects it commits.

    ``clock`` gives the time a trigger fires at; each firing of the pass gets a later
    time than the one before, so a sequence trigger can order its children's firings.
    """

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        self.clock = clock
        self.buckets = BucketStore()
        self.events: dict[int, list[NewEvent]] = {}
        self.action_runs: list[ActionRun] = []
        self.firings = 0
        self._last_fired: dt.datetime | None = None
        self._alive: dict[uuid.UUID, bool] = {}

    # -- reactive -----------------------------------------------------------------

    def react(self, triggers: list[EventTrigger], event: Event) -> None:
        """Evaluate one event against the event triggers of its workspace."""
        document: dict[str, Any] | None = None
        related = event.related or []
        for trigger in triggers:
            if not trigger.covers(event.event, event.resource, related):
                continue
            document = document or event_json(event)
            key = trigger.bucketing_key(event.resource, related)
            bucket: Bucket | None = None
            expected = trigger.expects(event.event)
            if trigger.after and trigger.starts_after(event.event):
                # An event both opening and counting leaves its own window at 0, so a
                # window counts only the events after the one that opened it.
                bucket = self.buckets.ensure(
                    trigger,
                    key,
                    start=event.occurred,
                    end=event.occurred + trigger.within,
                    last_event=document,
                    initial_count=-1 if expected else 0,
                )
            if bucket is None and not trigger.after and expected:
                bucket = self.buckets.ensure(
                    trigger,
                    key,
                    start=event.occurred - FIRST_WINDOW_LOOKBACK,
                    end=event.occurred + trigger.within,
                    last_event=document,
                )
            if not expected:
                continue
            bucket = bucket or self.buckets.read(trigger, key)
            if bucket is not None:
                self._evaluate(trigger, bucket, event.occurred, document)

    # -- proactive ----------------------------------------------------------------

    def proact(self, trigger: EventTrigger, as_of: dt.datetime) -> None:
        """Close the proactive trigger's windows that ended by ``as_of``."""
        if not trigger.for_each:
            self.buckets.ensure(trigger, [], start=as_of, end=as_of + trigger.within, last_event=None)
        self.buckets.remove_meeting(trigger)
        for bucket in self.buckets.read_all(trigger):
            self._evaluate(trigger, bucket, as_of, None)

    # -- the windowing ------------------------------------------------------------

    def _evaluate(self, trigger: EventTrigger, bucket: Bucket, now: dt.datetime, event: dict[str, Any] | None) -> None:
        """Count ``event`` (if any) at ``now`` in ``bucket``; fire, roll or keep the window."""
        if now < bucket.start:
            # Older than the open window, or a trigger that fired waits for its window's end.
            return
        pending = 1 if event is not None else 0
        if pending and (trigger.immediate or bucket.start <= now < bucket.end):
            self.buckets.increment(trigger, bucket, pending, event)
            pending = 0
        ready = trigger.posture == REACTIVE or bucket.end <= now
        if ready and trigger.meets_threshold(bucket.count):
            labels = dict(zip(trigger.for_each, bucket.key, strict=True))
            self._fire(trigger, self._firing(trigger, labels, event or bucket.last_event, []))
            self.buckets.remove(trigger, bucket.key)
        elif now < bucket.end:
            return
        if trigger.after:
            self.buckets.remove(trigger, bucket.key)
        elif trigger.within:
            self.buckets.start_new(trigger, bucket.key, start=max(bucket.end, now), count=pending)

    # -- firing -------------------------------------------------------------------

    def _firing(
        self,
        trigger: Trigger,
        labels: Mapping[str, str],
        event: dict[str, Any] | None,
        children: list[dict[str, Any]],
    ) -> dict[str, Any]:
        triggered = self.clock()
        if self._last_fired is not None and triggered <= self._last_fired:
            triggered = self._last_fired + dt.timedelta(microseconds=1)
        self._last_fired = triggered
        return {
            "id": str(uuid.uuid4()),
            "trigger": trigger.document,
            "trigger_states": [TRIGGERED],
            "triggered": iso(triggered),
            "triggering_labels": dict(labels),
            "triggering_firings": children,
            "triggering_event": event,
            "triggering_value": None,
        }

    def _fire(self, trigger: Trigger, firing: dict[str, Any]) -> None:
        if trigger.parent is None:
            self._act(trigger, firing)
        else:
            self._fire_child(trigger.parent, firing)

    def _fire_child(self, parent: CompositeTrigger, firing: dict[str, Any]) -> None:
        """A child of ``parent`` fired: fire the parent if enough children have."""
        if parent.expected_firings == 1:
            self._fire(parent, self._firing(parent, {}, None, [firing]))
            return
        automation = parent.automation
        if not self.alive(automation.id):
            return
        fired_at = dt.datetime.fromisoformat(firing["triggered"])
        kept = CompositeTriggerChildFiring.objects.filter(automation_id=automation.id, parent_trigger_id=parent.id)
        if parent.within is not None:
            kept.filter(child_fired_at__lt=fired_at - parent.within).delete()
        CompositeTriggerChildFiring.objects.update_or_create(
            automation_id=automation.id,
            parent_trigger_id=parent.id,
            child_trigger_id=uuid.UUID(str(firing["trigger"]["id"])),
            defaults={
                "workspace_id": automation.workspace_id,
                "child_firing_id": uuid.UUID(firing["id"]),
                "child_fired_at": fired_at,
                "child_firing": firing,
            },
        )
        children = {child.id for child in parent.children}
        rows = [row for row in kept.order_by("child_fired_at", "id") if row.child_trigger_id in children]
        if parent.ready([row.child_trigger_id for row in rows]):
            kept.filter(child_firing_id__in=[row.child_firing_id for row in rows]).delete()
            self._fire(parent, self._firing(parent, {}, None, [row.child_firing for row in rows]))

    def _act(self, trigger: Trigger, firing: dict[str, Any]) -> None:
        """The automation's trigger fired: its event and its actions."""
        automation = trigger.automation
        if not self.alive(automation.id):
            return
        self.firings += 1
        event = firing["triggering_event"]
        resource = {
            "prefect.resource.id": f"prefect.automation.{automation.id}",
            "prefect.resource.name": automation.name,
        }
        if isinstance(trigger, EventTrigger):
            resource["prefect.posture"] = trigger.posture
        state_event_id = uuid.uuid4()
        occurred = dt.datetime.fromisoformat(firing["triggered"])
        related = (
            [{"prefect.resource.id": f"prefect.event.{event['id']}", "prefect.resource.role": "triggering-event"}]
            if event
            else []
        )
        payload = {"triggering_labels": firing["triggering_labels"], "triggering_event": event}
        state_event = NewEvent("prefect.automation.triggered", resource, related, payload, occurred, state_event_id)
        self.events.setdefault(automation.workspace_id, []).append(state_event)
        state_document = {
            "occurred": firing["triggered"],
            "event": state_event.event,
            "resource": resource,
            "related": related,
            "payload": payload,
            "id": str(state_event_id),
            "follows": None,
            "received": iso(self.clock()),
        }
        sources = [(event, action) for action in automation.actions] + [
            (state_document, action) for action in automation.actions_on_trigger
        ]
        common = {"automation": automation_document(automation), "triggered": firing["triggered"]}
        for index, (triggering_event, action) in enumerate(sources):
            document = {
                **common,
                "triggering_labels": firing["triggering_labels"],
                "triggering_event": triggering_event,
                "firing": firing,
            }
            self.action_runs.append(
                ActionRun(
                    workspace_id=automation.workspace_id,
                    automation_id=automation.id,
                    action=action,
                    action_index=index,
                    # An expression here makes Django's bulk insert on PostgreSQL use a
                    # plain VALUES list: its UNNEST form escapes each JSON document
                    # again as an array element, which costs more than the insert.
                    phase=Value(PHASE_TRIGGERED),
                    firing=document,
                    created=occurred,
                    next_attempt_at=occurred,
                )
            )

    # -- committing ---------------------------------------------------------------

    def alive(self, automation_id: uuid.UUID) -> bool:
        """Whether the automation still exists; it then stays until the pass commits (its
        row is locked against a concurrent delete, whose cascade would race our writes)."""
        if automation_id not in self._alive:
            rows = Automation.objects.filter(pk=automation_id)
            if connection.vendor == "postgresql":
                rows = rows.select_for_update(no_key=True)
            self._alive[automation_id] = rows.exists()
        return self._alive[automation_id]

    def commit(self) -> None:
        """Write the pass's bucket changes, events and action runs (in the caller's
        transaction)."""
        touched = self.buckets.touched_automations()
        self.buckets.flush(live_automations={automation_id for automation_id in touched if self.alive(automation_id)})
        for workspace_id, events in self.events.items():
            record_events(events, workspace_id=workspace_id)
        if self.action_runs:
            ActionRun.objects.bulk_create(self.action_runs)
        self.events = {}
        self.action_runs = []


def proactive_triggers(trigger: Trigger) -> list[EventTrigger]:
    """The proactive event triggers of a trigger tree."""
    if isinstance(trigger, EventTrigger):
        return [trigger] if trigger.posture == PROACTIVE else []
    return [found for child in trigger.children for found in proactive_triggers(child)]
