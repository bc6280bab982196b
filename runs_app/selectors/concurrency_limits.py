"""Reads of tag concurrency limits: who holds their slots."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.utils import timezone

from runs_app.models import ConcurrencyLimit, TaskRun
from runs_app.services import slots


@dataclass(frozen=True)
class SlotHolder:
    """Who holds a slot of a tag concurrency limit, since when, and whether it is stale."""

    tag: str
    task_run_id: str
    name: str | None
    state: str | None
    flow_run_id: uuid.UUID | None
    flow_run_state: str | None
    since: dt.datetime | None
    stale: str | None


def concurrency_limit_holders(*, limit: ConcurrencyLimit) -> list[SlotHolder]:
    """The holders of ``limit``'s slots in the order they took them (one query); only
    task runs of the limit's workspace hold its slots."""
    holder_ids = [slot for slot in limit.active_slots or [] if _is_uuid(slot)]
    rows = {
        str(row["id"]): row
        for row in TaskRun.objects.filter(workspace_id=limit.workspace_id, id__in=holder_ids).values(
            "id", "name", "state_type", "flow_run_id", "flow_run__state_type"
        )
    }
    now = timezone.now()
    holders = []
    for slot in limit.active_slots or []:
        row = rows.get(slot)
        states = (row["state_type"], row["flow_run__state_type"]) if row else None
        holders.append(
            SlotHolder(
                tag=limit.tag,
                task_run_id=slot,
                name=row["name"] if row else None,
                state=row["state_type"] if row else None,
                flow_run_id=row["flow_run_id"] if row else None,
                flow_run_state=row["flow_run__state_type"] if row else None,
                since=slots.acquired_at(limit, slot),
                stale=slots.stale_reason(limit, slot, states, now),
            )
        )
    return holders


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
