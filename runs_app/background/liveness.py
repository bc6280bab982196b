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
which gives back their concurrency slots).
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
    logged = Log.objects.filter(Q(timestamp__gte=since) | Q(created__gte=since), flow_run_id=run.id)
    if logged.exists():
        return True
    return TaskRun.objects.filter(flow_run_id=run.id, updated__gte=since).exists()


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


def stuck_candidates(runs: QuerySet[FlowRun] | None = None) -> QuerySet[FlowRun]:
    """RUNNING and CANCELLING flow runs (of ``runs``, if given), with their deployment."""
    base = FlowRun.objects.all() if runs is None else runs
    return base.filter(state_type__in=[StateType.RUNNING, StateType.CANCELLING]).select_related("deployment")


def stuck_flow_runs_find(*, runs: QuerySet[FlowRun] | None = None, now: dt.datetime | None = None) -> list[StuckRun]:
    """The stuck runs and what the service would do with each (reads only)."""
    now = now or timezone.now()
    found = (_verdict(run, now) for run in stuck_candidates(runs).order_by("state_timestamp"))
    return [verdict for verdict in found if verdict is not None]


def _finish(stuck: StuckRun, now: dt.datetime) -> StuckRun | None:
    """Apply one verdict if it still holds with the run locked; ``None`` if it no longer does."""
    with transaction.atomic():
        run = stuck_candidates(FlowRun.objects.select_for_update(of=("self",))).filter(pk=stuck.flow_run_id).first()
        again = _verdict(run, timezone.now()) if run is not None else None
        if run is None or again is None or again.to_type != stuck.to_type:
            return None
        proposal = ProposedState.make(type=again.to_type, message=again.reason, timestamp=timezone.now())
        result = flow_run_set_state(flow_run_id=run.id, state=proposal)
        if result.status != SetStateStatus.ACCEPT:
            return None
        unfinished = TaskRun.objects.filter(flow_run_id=run.id).exclude(state_type__in=list(TERMINAL_STATE_TYPES))
        for task_run_id in unfinished.values_list("pk", flat=True):
            task_state = ProposedState.make(
                type=again.to_type, message=f"Its flow run was {again.to_type.lower()}.", timestamp=timezone.now()
            )
            task_run_set_state(task_run_id=task_run_id, state=task_state, force=True)
    return StuckRun(**{**again.__dict__, "applied": True})


def stuck_flow_runs_resolve(
    *, runs: QuerySet[FlowRun] | None = None, dry_run: bool = False, now: dt.datetime | None = None
) -> list[StuckRun]:
    """Find the stuck runs and (unless ``dry_run``) finish each through the engine, one
    transaction per run; answers what was (or would be) done."""
    now = now or timezone.now()
    found = stuck_flow_runs_find(runs=runs, now=now)
    if dry_run:
        return found
    done = [applied for applied in (_finish(stuck, now) for stuck in found) if applied is not None]
    if done:
        logger.info("Finished %d stuck flow run(s)", len(done))
    return done


def liveness_service() -> int:
    """One pass of the liveness service in the services loop."""
    return len(stuck_flow_runs_resolve())
