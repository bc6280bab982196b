"""Work-queue polling: the scheduled runs an agent or worker may start now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    Count,
)

from runs_app.models import FlowRun
from runs_app.states import StateType


def scheduled_runs_for_queues(
    queues: list[Any],
    *,
    workspace_id: int,
    limit: int,
    scheduled_before: dt.datetime | None = None,
    scheduled_after: dt.datetime | None = None,
) -> list[tuple[Any, FlowRun]]:
    """SCHEDULED runs an agent or worker may start now, as ``(queue, run)`` pairs.

    Queues are taken in the order given (priority order for pools); paused queues give
    nothing; a queue with a concurrency limit gives at most its free slots (limit minus
    its PENDING/RUNNING/CANCELLING runs). Runs come in next-scheduled order, then id.
    One query counts the busy runs of every queue, then one query per non-empty queue.
    The queues are of the workspace, and so are the runs read.
    """
    from runs_app.states import ACTIVE_STATE_TYPES

    open_queues = [queue for queue in queues if not queue.is_paused]
    busy = (
        dict(
            FlowRun.objects.filter(
                workspace_id=workspace_id, work_queue__in=open_queues, state_type__in=list(ACTIVE_STATE_TYPES)
            )
            .order_by()
            .values_list("work_queue_id")
            .annotate(count=Count("id"))
        )
        if any(queue.concurrency_limit is not None for queue in open_queues)
        else {}
    )
    picked: list[tuple[Any, FlowRun]] = []
    for queue in open_queues:
        room = limit - len(picked)
        if queue.concurrency_limit is not None:
            room = min(room, queue.concurrency_limit - busy.get(queue.id, 0))
        if room <= 0:
            continue
        runs = FlowRun.objects.filter(workspace_id=workspace_id, work_queue=queue, state_type=StateType.SCHEDULED)
        if scheduled_before is not None:
            runs = runs.filter(next_scheduled_start_time__lte=scheduled_before)
        if scheduled_after is not None:
            runs = runs.filter(next_scheduled_start_time__gte=scheduled_after)
        runs = runs.for_response().order_by("next_scheduled_start_time", "id")
        picked.extend((queue, run) for run in runs[:room])
        if len(picked) >= limit:
            break
    return picked
