"""Tag concurrency slots that cannot leak.

A slot in ``ConcurrencyLimit.active_slots`` is *stale* when its holder

* no longer exists (the task run, or its flow run, was deleted),
* is no longer RUNNING (or CANCELLING, which also holds a slot, as in the reference),
* belongs to a flow run in a final state (the process died: the task never reports), or
* has held it longer than the limit's ``max_hold_seconds`` (when set).

The reference keeps such slots forever, so a crashed task blocks its tag until someone
deletes the limit. Here every acquisition frees the stale slots of the limits it locked
first (inside the orchestration transaction, with those rows locked, so nothing races
it), a flow run entering a final state releases its task runs' slots at once, and the
slots service sweeps the rest (``runs_app.background.slots``). ``slot_acquired`` records since when each
slot is held (ISO timestamps by task-run id).

A limit and the task runs holding its slots are of one workspace: a limit counts only
task runs of its own workspace as holders (a slot naming another workspace's run is a
holder that does not exist), and a run takes slots only of its workspace's limits.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db import connection, connections
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from orion_project.compiled import CompiledRows
from runs_app.models import ConcurrencyLimit, TaskRun
from runs_app.states import TERMINAL_STATE_TYPES, StateType

HOLDING_STATE_TYPES = frozenset({StateType.RUNNING, StateType.CANCELLING})


def tag_limits_locked(tags: Iterable[str] | None, *, workspace_id: int) -> QuerySet[ConcurrencyLimit]:
    """The workspace's limits on ``tags``, locked in tag order (every writer of slots
    locks them in this order, so two never deadlock)."""
    if not tags:  # most runs have none: no queryset to compile
        return ConcurrencyLimit.objects.none()
    return (
        ConcurrencyLimit.objects.select_for_update()
        .filter(workspace_id=workspace_id, tag__in=list(tags or []))
        .order_by("tag")
    )


def take_slot(limit: ConcurrencyLimit, run_id: str, now: datetime) -> None:
    """Give ``run_id`` a slot of ``limit`` (locked by the caller) and save it."""
    limit.active_slots = [*(limit.active_slots or []), run_id]
    limit.slot_acquired = {**(limit.slot_acquired or {}), run_id: now.isoformat()}
    limit.save(update_fields=["active_slots", "slot_acquired", "updated"])


def release_slots(limit: ConcurrencyLimit, run_ids: Iterable[str]) -> bool:
    """Take ``run_ids`` out of ``limit`` (locked by the caller); ``True`` if it changed."""
    gone = set(run_ids)
    kept = [slot for slot in limit.active_slots or [] if slot not in gone]
    if len(kept) == len(limit.active_slots or []):
        return False
    limit.active_slots = kept
    limit.slot_acquired = {key: value for key, value in (limit.slot_acquired or {}).items() if key in kept}
    limit.save(update_fields=["active_slots", "slot_acquired", "updated"])
    return True


def acquired_at(limit: ConcurrencyLimit, run_id: str) -> datetime | None:
    """Since when ``run_id`` holds its slot of ``limit`` (``None`` if unrecorded)."""
    stamp = (limit.slot_acquired or {}).get(run_id)
    return parse_datetime(stamp) if isinstance(stamp, str) else None


Holder = tuple[str | None, str | None]


def _holder_states(run_ids: Iterable[str], *, workspace_ids: Iterable[int]) -> dict[tuple[int, str], Holder]:
    """``(workspace id, run id) → (task run state type, flow run state type)`` for the
    holders that exist in those workspaces (one query)."""
    valid: list[uuid.UUID] = []
    for run_id in set(run_ids):
        try:
            valid.append(uuid.UUID(run_id))
        except ValueError:
            continue  # a slot_override may name anything; such a holder does not exist
    if not valid:
        return {}
    rows = TaskRun.objects.filter(workspace_id__in=sorted(set(workspace_ids)), id__in=valid).values_list(
        "workspace_id", "id", "state_type", "flow_run__state_type"
    )
    return {(workspace_id, str(run_id)): (state, flow_state) for workspace_id, run_id, state, flow_state in rows}


def stale_reason(limit: ConcurrencyLimit, run_id: str, holder: Holder | None, now: datetime) -> str | None:
    """Why the slot of ``run_id`` in ``limit`` is stale, or ``None`` while it is held."""
    if holder is None:
        return "task run deleted"
    state, flow_state = holder
    if state not in HOLDING_STATE_TYPES:
        return f"task run is {state}"
    if flow_state in TERMINAL_STATE_TYPES:
        return f"flow run is {flow_state}"
    since = acquired_at(limit, run_id)
    hold = limit.max_hold_seconds
    if hold is not None and since is not None and now - since > timedelta(seconds=hold):
        return f"held longer than {hold} s"
    return None


def free_stale_slots(limits: Sequence[ConcurrencyLimit], now: datetime, *, keep: str | None = None) -> int:
    """Release the stale slots of ``limits`` (locked by the caller; of one workspace or
    several, each read against its own workspace's runs); how many were freed.

    One query reads the state of every holder. ``keep`` is the run asking for a slot now,
    never stale to itself.
    """
    held = {slot for limit in limits for slot in limit.active_slots or [] if slot != keep}
    if not held:
        return 0
    holders = _holder_states(held, workspace_ids={limit.workspace_id for limit in limits})
    freed = 0
    for limit in limits:
        stale = [
            slot
            for slot in limit.active_slots or []
            if slot != keep and stale_reason(limit, slot, holders.get((limit.workspace_id, slot)), now) is not None
        ]
        if stale and release_slots(limit, stale):
            freed += len(stale)
    return freed


# Stand-ins the holders' read is compiled with, replaced by the real values at each run.
_FLOW_RUN_PLACEHOLDER = uuid.UUID("00000000-0000-4000-8000-0000000f1a9e")
_WORKSPACE_PLACEHOLDER = -2_147_483_000


@functools.cache
def _holders_read(alias: str) -> tuple[CompiledRows, int, int]:
    """The read of a flow run's task runs that hold slots, compiled once per database
    (every flow run reaching a final state runs it), and where its workspace and flow run
    sit among its parameters."""
    compiled = CompiledRows.of(
        TaskRun.objects.filter(
            workspace_id=_WORKSPACE_PLACEHOLDER,
            flow_run_id=_FLOW_RUN_PLACEHOLDER,
            state_type__in=sorted(HOLDING_STATE_TYPES),
        ).values_list("id", "tags"),
        alias,
    )
    assert compiled is not None
    flow_run = TaskRun._meta.get_field("flow_run").get_db_prep_value(_FLOW_RUN_PLACEHOLDER, connections[alias])
    return compiled, compiled.params.index(_WORKSPACE_PLACEHOLDER), compiled.params.index(flow_run)


def release_slots_of_flow_run(*, flow_run_id: uuid.UUID, workspace_id: int) -> int:
    """A flow run reached a final state: free the slots its still-RUNNING task runs hold."""
    read, workspace_at, flow_run_at = _holders_read(connection.alias)
    params = list(read.params)
    params[workspace_at] = workspace_id
    params[flow_run_at] = TaskRun._meta.get_field("flow_run").get_db_prep_value(flow_run_id, connection)
    holders = read.rows(params)
    tags = sorted({tag for _, run_tags in holders for tag in run_tags or []})
    if not tags:
        return 0
    ids = {str(run_id) for run_id, _ in holders}
    freed = 0
    for limit in tag_limits_locked(tags, workspace_id=workspace_id):
        before = len(limit.active_slots or [])
        if release_slots(limit, ids):
            freed += before - len(limit.active_slots)
    return freed
