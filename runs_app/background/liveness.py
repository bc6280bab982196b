"""The liveness service: flow runs that nothing will ever finish are finished for them.

Two kinds of stuck run:

* RUNNING and silent: no new state, no log line and no task-run change for longer than
  the run's silence (the deployment's ``liveness_silence_seconds``, else
  ``ORION_STUCK_RUNNING_SECONDS`` for deployed runs and
  ``ORION_STUCK_RUNNING_NO_DEPLOYMENT_SECONDS`` for the others; 0 is off, the default).
  It becomes CRASHED.
* CANCELLING with nothing to cancel it (no deployment, or no infrastructure pid: no
  agent or worker holds it) and silent for ``ORION_CANCELLING_GRACE_SECONDS``, or
  CANCELLING for longer than ``ORION_CANCELLING_TIMEOUT_SECONDS``. It becomes CANCELLED.

Each verdict is checked a second time with the run's row locked, in the transaction that
proposes the new state through the orchestration engine, so a run that wrote a state or
a log after the first look is left alone: a run that still shows signs of life is never
crashed. Its unfinished task runs follow it to the same state type (through the engine,
which gives back their concurrency slots). Every call looks at one workspace's runs;
the service's pass serves each workspace in turn.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from runs_app.background import workspace_ids
from runs_app.models import FlowRun, Log, TaskRun
from runs_app.orchestration.context import ProposedState, SetStateStatus
from runs_app.services.runs import flow_run_set_state, task_run_set_state
from runs_app.states import TERMINAL_STATE_TYPES, StateType

logger = logging.getLogger("orion.liveness")


@dataclass(frozen=True)
class StuckRun:
    """A run the service finishes, the state type it proposes and why."""

    flow_run_id: uuid.UUID
    name: str
    from_type: str
    to_type: str
    reason: str
    applied: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "flow_run_id": str(self.flow_run_id),
            "name": self.name,
            "from": self.from_type,
            "to": self.to_type,
            "reason": self.reason,
            "applied": self.applied,
        }


def running_silence_seconds(run: FlowRun) -> int:
    """How long a RUNNING run may stay silent before it counts as crashed (0: never)."""
    if run.deployment_id is None:
        return int(settings.ORION_STUCK_RUNNING_NO_DEPLOYMENT_SECONDS)
    own = run.deployment.liveness_silence_seconds if run.deployment is not None else None
    return int(own if own is not None else settings.ORION_STUCK_RUNNING_SECONDS)


def active_since(run: FlowRun, since: dt.datetime) -> bool:
    """Did the run show a sign of life at or after ``since``: a state or edit of its own, a
    log line (by its time or by when it arrived), or a task run that changed?"""
    if run.updated >= since or (run.state_timestamp is not None and run.state_timestamp >= since):
        return True
    recent = Q(timestamp__gte=since) | Q(created__gte=since)
    logged = Log.objects.filter(recent, flow_run_id=run.id, workspace_id=run.workspace_id)
    if logged.exists():
        return True
    return TaskRun.objects.filter(flow_run_id=run.id, workspace_id=run.workspace_id, updated__gte=since).exists()


def _verdict(run: FlowRun, now: dt.datetime) -> StuckRun | None:
    """Why ``run`` is stuck and where it goes, or ``None`` if it is not."""
    if run.state_type == StateType.RUNNING:
        silence = running_silence_seconds(run)
        if silence <= 0 or active_since(run, now - dt.timedelta(seconds=silence)):
            return None
        reason = f"No state, log or task-run change for {silence} s; the process running it is presumed gone."
        return StuckRun(run.id, run.name, StateType.RUNNING, StateType.CRASHED, reason)
    if run.state_type == StateType.CANCELLING:
        since = run.state_timestamp or run.updated
        timeout = int(settings.ORION_CANCELLING_TIMEOUT_SECONDS)
        if timeout > 0 and since <= now - dt.timedelta(seconds=timeout):
            reason = f"Still cancelling after {timeout} s; nothing finished the cancellation."
            return StuckRun(run.id, run.name, StateType.CANCELLING, StateType.CANCELLED, reason)
        grace = dt.timedelta(seconds=int(settings.ORION_CANCELLING_GRACE_SECONDS))
        unowned = run.deployment_id is None or not run.infrastructure_pid
        if unowned and not active_since(run, now - grace):
            reason = "Cancelling with no infrastructure to stop (no deployment or no infrastructure pid)."
            return StuckRun(run.id, run.name, StateType.CANCELLING, StateType.CANCELLED, reason)
    return None


def stuck_candidates(runs: QuerySet[FlowRun] | None = None, *, workspace_id: int) -> QuerySet[FlowRun]:
    """The workspace's RUNNING and CANCELLING flow runs (of ``runs``, if given), with
    their deployment."""
    base = FlowRun.objects.all() if runs is None else runs
    active = base.filter(workspace_id=workspace_id, state_type__in=[StateType.RUNNING, StateType.CANCELLING])
    return active.select_related("deployment")


def stuck_flow_runs_find(
    *, workspace_id: int, runs: QuerySet[FlowRun] | None = None, now: dt.datetime | None = None
) -> list[StuckRun]:
    """The workspace's stuck runs and what the service would do with each (reads only)."""
    now = now or timezone.now()
    candidates = stuck_candidates(runs, workspace_id=workspace_id).order_by("state_timestamp")
    found = (_verdict(run, now) for run in candidates)
    return [verdict for verdict in found if verdict is not None]


def _finish(stuck: StuckRun, now: dt.datetime, workspace_id: int) -> StuckRun | None:
    """Apply one verdict if it still holds with the run locked; ``None`` if it no longer does."""
    with transaction.atomic():
        locked = FlowRun.objects.select_for_update(of=("self",))
        run = stuck_candidates(locked, workspace_id=workspace_id).filter(pk=stuck.flow_run_id).first()
        again = _verdict(run, timezone.now()) if run is not None else None
        if run is None or again is None or again.to_type != stuck.to_type:
            return None
        proposal = ProposedState.make(type=again.to_type, message=again.reason, timestamp=timezone.now())
        result = flow_run_set_state(flow_run_id=run.id, state=proposal, workspace_id=workspace_id)
        if result.status != SetStateStatus.ACCEPT:
            return None
        unfinished = TaskRun.objects.filter(flow_run_id=run.id, workspace_id=workspace_id).exclude(
            state_type__in=list(TERMINAL_STATE_TYPES)
        )
        for task_run_id in unfinished.values_list("pk", flat=True):
            task_state = ProposedState.make(
                type=again.to_type, message=f"Its flow run was {again.to_type.lower()}.", timestamp=timezone.now()
            )
            task_run_set_state(task_run_id=task_run_id, state=task_state, force=True, workspace_id=workspace_id)
    return StuckRun(**{**again.__dict__, "applied": True})


def stuck_flow_runs_resolve(
    *,
    workspace_id: int,
    runs: QuerySet[FlowRun] | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> list[StuckRun]:
    """Find the workspace's stuck runs and (unless ``dry_run``) finish each through the
    engine, one transaction per run; answers what was (or would be) done."""
    now = now or timezone.now()
    found = stuck_flow_runs_find(workspace_id=workspace_id, runs=runs, now=now)
    if dry_run:
        return found
    finished = (_finish(stuck, now, workspace_id) for stuck in found)
    done = [applied for applied in finished if applied is not None]
    if done:
        logger.info("Finished %d stuck flow run(s)", len(done))
    return done


def liveness_service() -> int:
    """One pass of the liveness service in the services loop, workspace by workspace."""
    return sum(len(stuck_flow_runs_resolve(workspace_id=workspace_id)) for workspace_id in workspace_ids())
