"""The set_state pipeline (reference §F.1): lock the run, apply the policy, write, report.

The public doors are ``runs_app.services.flow_run_set_state`` / ``task_run_set_state``
(and run creation there); routes, admin actions, commands and services call those, never
this module, so there is one way a state is written.

Every proposal runs in one transaction with the run's row locked (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions serialise writers), so two
concurrent proposals on one run are evaluated one after the other and each sees the
state the other wrote: no transition and no counter update is ever lost.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from runs_app.models import FlowRun, FlowRunState, TaskRun, TaskRunState
from runs_app.orchestration.bookkeeping import apply_bookkeeping
from runs_app.orchestration.context import (
    OrchestrationContext,
    OrchestrationResult,
    ProposedState,
    SetStateStatus,
)
from runs_app.orchestration.policies import policy_for
from runs_app.orchestration.rules import Rule

logger = logging.getLogger("orion.orchestration")


def lock_run(model: type[FlowRun] | type[TaskRun], run_id: uuid.UUID) -> Any:
    """The run row (``None`` if missing), locked for the rest of the transaction.

    The current state is read by a second statement on purpose: on PostgreSQL a row
    fetched after waiting for the lock is the newest version, but rows joined to it in
    the same statement come from the statement's older snapshot, which would hide the
    state the previous lock holder just wrote.
    """
    return model.objects.select_for_update().filter(pk=run_id).first()


def orchestrate(
    run: FlowRun | TaskRun,
    proposed: ProposedState,
    *,
    force: bool,
    api_version: tuple[int, int, int] | None,
) -> OrchestrationResult:
    """Evaluate ``proposed`` for a locked ``run`` inside the caller's transaction."""
    is_task = isinstance(run, TaskRun)
    ctx = OrchestrationContext(
        run=run,
        initial=run.state,
        proposed=proposed,
        now=timezone.now(),
        force=force,
        api_version=api_version,
    )
    if isinstance(run, TaskRun) and run.flow_run_id is not None:
        ctx.flow_run = FlowRun.objects.filter(pk=run.flow_run_id).first()

    entered = _run_before_hooks(ctx, policy_for(task_run=is_task, force=force))
    if ctx.proposed is not None and ctx.status in (SetStateStatus.ACCEPT, SetStateStatus.REJECT):
        ctx.validated = _write_state(ctx, ctx.proposed)
    _run_after_hooks(ctx, entered)
    if ctx.validated is not None:
        run.save()
        if isinstance(run, FlowRun) and isinstance(ctx.validated, FlowRunState) and run.parent_task_run_id:
            _mirror_onto_parent_task(run, ctx.validated, api_version)
        if ctx.scratch.get("reset_failed_tasks") and isinstance(run, FlowRun):
            _reset_failed_task_runs(run, api_version)
    return OrchestrationResult(
        status=ctx.status,
        state=ctx.validated if ctx.validated is not None else run.state,
        reason=ctx.reason,
        delay_seconds=ctx.delay_seconds,
        state_written=ctx.validated is not None,
    )


def _run_before_hooks(ctx: OrchestrationContext, policy: tuple[type[Rule], ...]) -> list[Rule]:
    """Enter the governing rules in priority order; stop once the proposal is gone."""
    entered: list[Rule] = []
    for rule_class in policy:
        if ctx.proposed is None:
            break
        rule = rule_class()
        if not rule.governs(ctx.initial_type, ctx.proposed_type):
            continue
        entered.append(rule)
        try:
            rule.before(ctx)
        except DatabaseError:
            raise
        except Exception as error:  # a broken rule must not leave a half-made transition
            logger.exception("Orchestration rule %s failed", rule.name)
            ctx.abort(f"Aborting orchestration due to error in {rule.name}: {error!r}")
    return entered


def _run_after_hooks(ctx: OrchestrationContext, entered: list[Rule]) -> None:
    """Exit rules in reverse order: ``after`` if the rule governs what happened, else undo."""
    validated_type = ctx.validated.type if ctx.validated is not None else None
    for rule in reversed(entered):
        if ctx.validated is not None and rule.governs(ctx.initial_type, validated_type):
            rule.after(ctx)
        else:
            rule.cleanup(ctx)


def _write_state(ctx: OrchestrationContext, state: ProposedState) -> FlowRunState | TaskRunState:
    """Apply the global bookkeeping and insert the state row; the run points at it."""
    apply_bookkeeping(ctx, state)
    fields = {
        "id": state.id,
        "type": state.type,
        "name": state.name,
        "timestamp": state.timestamp,
        "message": state.message,
        "data": state.data,
        "state_details": state.state_details,
    }
    row: FlowRunState | TaskRunState
    if isinstance(ctx.run, FlowRun):
        row = FlowRunState.objects.create(flow_run=ctx.run, **fields)
    else:
        row = TaskRunState.objects.create(task_run=ctx.run, **fields)
    ctx.run.state = row  # type: ignore[assignment]
    return row


def _mirror_onto_parent_task(run: FlowRun, state: FlowRunState, api_version: tuple[int, int, int] | None) -> None:
    """A sub-flow's new state is copied, forced, onto the task run standing for it."""
    parent = lock_run(TaskRun, run.parent_task_run_id)  # type: ignore[arg-type]
    if parent is None:
        return
    details = {
        key: value for key, value in (state.state_details or {}).items() if key not in ("flow_run_id", "task_run_id")
    }
    details["child_flow_run_id"] = str(run.id)
    copy = ProposedState(
        type=state.type,
        name=state.name,
        timestamp=state.timestamp,
        message=state.message,
        data=state.data,
        state_details=details,
    )
    orchestrate(parent, copy, force=True, api_version=api_version)


def _reset_failed_task_runs(run: FlowRun, api_version: tuple[int, int, int] | None) -> None:
    """Clients older than API 0.8.3 expect a retried flow's failed tasks to be reset."""
    now = timezone.now()
    for task_run in TaskRun.objects.select_for_update().filter(flow_run=run, state_type__in=["FAILED", "CRASHED"]):
        retry = ProposedState.make(type="SCHEDULED", name="AwaitingRetry", timestamp=now)
        orchestrate(task_run, retry, force=True, api_version=api_version)
