"""The late-runs service: SCHEDULED runs past their time get a SCHEDULED state named "Late".

Only runs still SCHEDULED are touched (never PENDING or RUNNING ones), through the
orchestration engine so the run's row lock and bookkeeping apply; the scheduled time is
kept. Runs are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so several copies
of the service share the work. A pass serves each workspace in turn.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from runs_app.background import workspace_ids
from runs_app.models import FlowRun
from runs_app.orchestration.context import ProposedState
from runs_app.services.runs import flow_run_set_state
from runs_app.states import StateName, StateType

logger = logging.getLogger("orion.late_runs")


def mark_late_runs(*, now: dt.datetime | None = None, batch_size: int = 200) -> int:
    """Mark every overdue SCHEDULED run of every workspace Late; returns how many were marked."""
    now = now or timezone.now()
    return sum(
        workspace_late_runs_mark(workspace_id=workspace_id, now=now, batch_size=batch_size)
        for workspace_id in workspace_ids()
    )


def workspace_late_runs_mark(*, workspace_id: int, now: dt.datetime, batch_size: int = 200) -> int:
    """Mark the workspace's overdue SCHEDULED runs Late; returns how many were marked."""
    cutoff = now - dt.timedelta(seconds=settings.ORION_LATE_RUNS_AFTER_SECONDS)
    marked = 0
    while True:
        with transaction.atomic():
            overdue = (
                FlowRun.objects.filter(
                    workspace_id=workspace_id, state_type=StateType.SCHEDULED, next_scheduled_start_time__lt=cutoff
                )
                .exclude(state_name=StateName.LATE)
                .order_by("next_scheduled_start_time")
            )
            if connection.vendor == "postgresql":
                overdue = overdue.select_for_update(skip_locked=True, of=("self",))
            runs = list(overdue.select_related("state")[:batch_size])
            for run in runs:
                scheduled = (run.state.state_details or {}).get("scheduled_time") if run.state else None
                late = ProposedState.make(
                    type=StateType.SCHEDULED,
                    name=StateName.LATE,
                    timestamp=timezone.now(),
                    state_details={"scheduled_time": scheduled} if scheduled else None,
                )
                flow_run_set_state(flow_run_id=run.id, state=late, force=True, workspace_id=workspace_id)
        marked += len(runs)
        if len(runs) < batch_size:
            break
    if marked:
        logger.info("Marked %d flow run(s) late", marked)
    return marked
