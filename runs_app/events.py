"""The events the server records about its runs: one per state a flow run enters, named
``prefect.flow-run.<state name>``, as the 2.20 server emits them with events on.

Task runs get none from the server (as in 2.20: its client emits its task runs' events
itself, and the server's copies of a sub-flow's states onto its parent task emit nothing).

The event is recorded in the transaction that writes the state, so a rolled-back
transition leaves no event. Its id is the state's id, and it ``follows`` the previous
state's event when the two are close in time (five minutes, as the reference), which lets
a consumer order a run's events that arrive out of order.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings

from events_app.services.record import NewEvent, StoredText, record_events_with
from events_app.truncation import truncated
from orion_project.prepared import by_id
from runs_app.models import FlowRun, FlowRunState
from runs_app.states import StateType

# A state message longer than this is cut in its middle, as the reference does, so a
# result or traceback passed as a message cannot blow up the event.
STATE_MESSAGE_LIMIT = 100_000
TIGHT_TIMING = dt.timedelta(minutes=5)

_RELATED_JOINS = ("flow", "deployment", "work_queue__work_pool", "parent_task_run")
# What an event reads of each row it names; a service that has read these rows anyway
# (creating a run checks its flow, deployment and parent task run) reads these fields
# and leaves the rows on the run, and the event costs no read.
NAMED_FIELDS = ("id", "name", "tags")


class _RecentRelated:
    """The related resources of the runs that changed state lately, by ``(workspace, run)``.

    As the reference does (``PREFECT_API_EVENTS_RELATED_RESOURCE_CACHE_TTL``, 5 minutes,
    1,000 runs): a run's events within five minutes of its first name the flow, deployment,
    queue, pool and tags as they were then, and the state write after the first costs no
    read of them. Per process; a miss only costs the read.
    """

    def __init__(self, seconds: float = 300.0, size: int = 1000) -> None:
        self.seconds, self.size = seconds, size
        self._entries: OrderedDict[tuple[int, Any], tuple[float, list[dict[str, str]]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, Any]) -> list[dict[str, str]] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < time.monotonic():
                return None
            return entry[1]

    def put(self, key: tuple[int, Any], related: list[dict[str, str]]) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + self.seconds, related)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


_recent_related = _RecentRelated()


def flow_run_state_written(
    run: FlowRun,
    initial: FlowRunState | None,
    validated: FlowRunState,
    write: Callable[[str, Sequence[Any]], None],
) -> None:
    """Run ``write``, the statement that stores ``validated`` (see
    :func:`events_app.services.record.record_events_with`), and record the event of
    ``run`` entering it (from ``initial``) with it: on PostgreSQL in the same statement."""
    if not settings.ORION_EVENTS_EMIT:
        write("", ())
        return
    record_events_with(write, [flow_run_state_event(run, initial, validated)], workspace_id=run.workspace_id)


def flow_run_state_event(run: FlowRun, initial: FlowRunState | None, validated: FlowRunState) -> NewEvent:
    """The event of ``run`` entering ``validated`` (from ``initial``)."""
    message = None
    if initial is not None and "message" in initial.get_deferred_fields():
        # The locked run's columns gave the state (runs_app.orchestration.engine.lock_run):
        # its message is read by the event's statement rather than by one of its own.
        message = StoredText("initial_state", "message", FlowRunState, initial.pk, "message", STATE_MESSAGE_LIMIT)
    occurred = validated.timestamp
    follows = None
    if initial is not None and -TIGHT_TIMING < occurred - initial.timestamp < TIGHT_TIMING:
        follows = initial.id
    return NewEvent(
        event=f"prefect.flow-run.{validated.name}",
        resource={
            "prefect.resource.id": f"prefect.flow-run.{run.id}",
            "prefect.resource.name": run.name,
            "prefect.state-message": truncated(validated.message or "", STATE_MESSAGE_LIMIT),
            "prefect.state-name": validated.name or "",
            "prefect.state-timestamp": occurred.isoformat(),
            "prefect.state-type": validated.type,
        },
        related=_flow_run_related(run),
        payload={
            "intended": {"from": initial.type if initial is not None else None, "to": validated.type},
            "initial_state": state_payload(initial, message=message is None),
            "validated_state": state_payload(validated),
        },
        occurred=occurred,
        follows=follows,
        id=validated.id,
        stored_text=message,
    )


def state_payload(state: FlowRunState | None, *, message: bool = True) -> dict[str, str] | None:
    """A state as an event payload names it: type, name, message (when there is one and
    ``message``) and, for a pause, whether it reschedules."""
    if state is None:
        return None
    payload = {"type": str(state.type)}
    if state.name:
        payload["name"] = state.name
    text = truncated(state.message or "", STATE_MESSAGE_LIMIT) if message else ""
    if text:
        payload["message"] = text
    if state.type == StateType.PAUSED:
        payload["pause_reschedule"] = str(bool((state.state_details or {}).get("pause_reschedule"))).lower()
    return payload


def _flow_run_related(run: FlowRun) -> list[dict[str, str]]:
    """What the run's events name besides the run: its flow, deployment, work queue and
    pool, the task run standing for it in a parent flow, the tags of all of these (sorted),
    and what created it (a deployment's schedule or an automation)."""
    key = (run.workspace_id, run.id)
    related = _recent_related.get(key)
    if related is None:
        related = _read_related(run)
        _recent_related.put(key, related)
    creator = _creator(run.created_by)
    return [*related, creator] if creator is not None else list(related)


def _read_related(run: FlowRun) -> list[dict[str, str]]:
    """The flow, deployment, queue, pool and parent task run of ``run``, then the tags, in
    one read."""
    joined = (
        run
        if _relations_loaded(run)
        else by_id(FlowRun, joins=_RELATED_JOINS).get(run.id, workspace_id=run.workspace_id) or run
    )
    related: list[dict[str, str]] = []
    tags = set(run.tags or ())
    queue = joined.work_queue if joined.work_queue_id else None
    named: list[tuple[str, Any]] = [
        ("flow", joined.flow if joined.flow_id else None),
        ("deployment", joined.deployment if joined.deployment_id else None),
        ("work-queue", queue),
        ("work-pool", queue.work_pool if queue is not None else None),
        ("task-run", joined.parent_task_run if joined.parent_task_run_id else None),
    ]
    for kind, row in named:
        if row is None:
            continue
        tags.update(getattr(row, "tags", None) or ())
        related.append(
            {
                "prefect.resource.id": f"prefect.{kind}.{row.id}",
                "prefect.resource.role": kind,
                "prefect.resource.name": row.name,
            }
        )
    related += [{"prefect.resource.id": f"prefect.tag.{tag}", "prefect.resource.role": "tag"} for tag in sorted(tags)]
    return related


def _relations_loaded(run: FlowRun) -> bool:
    """Whether every row ``run`` names is already on it (see :data:`NAMED_FIELDS`)."""
    for name in ("flow", "deployment", "work_queue", "parent_task_run"):
        if getattr(run, f"{name}_id") is not None and not getattr(FlowRun, name).is_cached(run):
            return False
    queue = run.work_queue if run.work_queue_id is not None else None
    return queue is None or bool(type(queue).work_pool.is_cached(queue))


def _creator(created_by: dict[str, Any] | None) -> dict[str, str] | None:
    """The deployment or automation that created the run, with role ``creator``."""
    kind = {"DEPLOYMENT": "deployment", "AUTOMATION": "automation"}.get((created_by or {}).get("type") or "")
    if kind is None or created_by is None:
        return None
    creator = {"prefect.resource.id": f"prefect.{kind}.{created_by.get('id')}", "prefect.resource.role": "creator"}
    if created_by.get("display_value"):
        creator["prefect.resource.name"] = created_by["display_value"]
    return creator
