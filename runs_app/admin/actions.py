"""What an operator does to a run from the admin, each through the orchestration engine.

Every action is a state proposal the engine judges with the run's row locked, exactly as
a ``POST /flow_runs/{id}/set_state`` from the API would be: the admin never writes a
run's state columns. The verdict (and the engine's reason when it refuses) goes back to
the operator.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from orion_project.exceptions import ObjectNotFoundError
from runs_app.models import FlowRun, TaskRun
from runs_app.orchestration.context import OrchestrationResult, ProposedState, SetStateStatus
from runs_app.services import bulk
from runs_app.services.bulk import BulkResult
from runs_app.services.runs import flow_run_set_state, task_run_set_state
from runs_app.states import ACTIVE_STATE_TYPES, StateName, StateType


class RunAction(enum.StrEnum):
    """The actions of the admin's run pages (also the last part of their URLs)."""

    RETRY = "retry"
    CANCEL = "cancel"
    MARK_CRASHED = "mark-crashed"
    SET_STATE = "set-state"


ACTION_LABELS = {
    RunAction.RETRY: "Retry",
    RunAction.CANCEL: "Cancel",
    RunAction.MARK_CRASHED: "Mark crashed",
    RunAction.SET_STATE: "Set state",
}
# Retrying reschedules a finished flow run; task runs are retried by their flow run.
FLOW_RUN_ACTIONS = (RunAction.RETRY, RunAction.CANCEL, RunAction.MARK_CRASHED, RunAction.SET_STATE)
TASK_RUN_ACTIONS = (RunAction.CANCEL, RunAction.MARK_CRASHED, RunAction.SET_STATE)


@dataclass(frozen=True)
class ActionOutcome:
    """The engine's verdict on an operator's action, in words for the page."""

    accepted: bool
    status: str
    state_type: str | None
    state_name: str | None
    reason: str | None

    def describe(self) -> str:
        if self.accepted:
            return f"The run is now {self.state_name} ({self.state_type})."
        # The engine's reasons are sentences of their own, most ending in a period already.
        reason = (self.reason or "no reason given").rstrip(".")
        return f"Orchestration answered {self.status}: {reason}."


def proposal_for(
    *,
    run: FlowRun | TaskRun,
    action: RunAction,
    reason: str,
    state_type: str | None = None,
    state_name: str | None = None,
) -> tuple[ProposedState, bool]:
    """The state an action proposes, and whether it is forced past the policy rules.

    Retry proposes the SCHEDULED "AwaitingRetry" state the engine accepts for a finished
    deployed run. Cancel proposes CANCELLING for a run something executes (its worker or
    agent stops it), CANCELLED otherwise. Set state is forced, as the UI's "change state".
    """
    now = timezone.now()
    if action == RunAction.RETRY:
        return ProposedState.make(
            type=StateType.SCHEDULED, name=StateName.AWAITING_RETRY, timestamp=now, message=reason
        ), False
    if action == RunAction.CANCEL:
        executing = run.state_type in ACTIVE_STATE_TYPES and getattr(run, "deployment_id", None) is not None
        target = StateType.CANCELLING if executing else StateType.CANCELLED
        return ProposedState.make(type=target, timestamp=now, message=reason), False
    if action == RunAction.MARK_CRASHED:
        return ProposedState.make(type=StateType.CRASHED, timestamp=now, message=reason), False
    if state_type is None:
        raise ValueError("Setting a state needs a state type.")
    return ProposedState.make(type=state_type, name=state_name or None, timestamp=now, message=reason), True


def run_action_apply(
    *,
    run: FlowRun | TaskRun,
    action: RunAction,
    reason: str,
    state_type: str | None = None,
    state_name: str | None = None,
) -> ActionOutcome:
    """Carry out ``action`` on ``run`` through the engine and report its verdict."""
    proposal, force = proposal_for(run=run, action=action, reason=reason, state_type=state_type, state_name=state_name)
    result = _set_state(run, proposal, force)
    current = result.state
    return ActionOutcome(
        accepted=result.status == SetStateStatus.ACCEPT and result.state_written,
        status=result.status,
        state_type=current.type if current is not None else None,
        state_name=current.name if current is not None else None,
        reason=result.reason,
    )


def _set_state(run: FlowRun | TaskRun, proposal: ProposedState, force: bool) -> OrchestrationResult:
    run_id: uuid.UUID = run.pk
    if isinstance(run, TaskRun):
        return task_run_set_state(task_run_id=run_id, state=proposal, force=force, workspace_id=run.workspace_id)
    return flow_run_set_state(flow_run_id=run_id, state=proposal, force=force, workspace_id=run.workspace_id)


def flow_runs_bulk_action(
    *,
    filters: Mapping[str, Any],
    action: RunAction,
    reason: str,
    state_type: str | None = None,
    state_name: str | None = None,
    workspace_id: int,
) -> BulkResult:
    """Carry out ``action`` on every flow run of the workspace ``filters`` matches (a
    ``/flow_runs/filter`` body), each run's proposal made as for one run and judged by
    the engine through the bulk service, one transaction per run."""

    def propose(run_id: uuid.UUID) -> tuple[ProposedState, bool]:
        runs = FlowRun.objects.filter(pk=run_id, workspace_id=workspace_id)
        run = runs.only("id", "workspace_id", "state_type", "deployment_id").first()
        if run is None:
            raise ObjectNotFoundError("Flow run not found.")
        return proposal_for(run=run, action=action, reason=reason, state_type=state_type, state_name=state_name)

    return bulk.flow_runs_bulk_propose(filters=filters, propose=propose, workspace_id=workspace_id)
