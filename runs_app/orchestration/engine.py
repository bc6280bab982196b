"""The set_state pipeline (reference §F.1): lock the run, apply the policy, write, report.

The public doors are ``runs_app.services.runs.flow_run_set_state`` / ``task_run_set_state``
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
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError, connection
from django.utils import timezone

from orion_project.prepared import by_id, insert_then_save
from runs_app.events import flow_run_state_written
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
from runs_app.states import StateName, StateType

logger = logging.getLogger("orion.orchestration")


# The states out of which some rule reads the current state's details (a scheduled time,
# a pause's settings): out of these the state row is read whole before the rules run.
DETAILS_READ_OUT_OF = frozenset({StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED})
# What the run's own columns tell of its current state; the rest is read when used.
STATE_FROM_RUN: tuple[tuple[str, str], ...] = (
    ("id", "state_id"),
    ("workspace_id", "workspace_id"),
    ("type", "state_type"),
    ("name", "state_name"),
    ("timestamp", "state_timestamp"),
)


def lock_run(model: type[FlowRun] | type[TaskRun], run_id: uuid.UUID, *, workspace_id: int) -> Any:
    """The run row of the workspace (``None`` if missing there), locked for the rest of
    the transaction, with its current state.

    The current state is read by a second statement on purpose: on PostgreSQL a row
    fetched after waiting for the lock is the newest version, but rows joined to it in
    the same statement come from the statement's older snapshot, which would hide the
    state the previous lock holder just wrote. Out of a state whose details no rule
    reads (RUNNING, a final state) that statement is skipped: the locked row's state
    columns, written with the state, give its id, type, name and timestamp, which is all
    the rules and the bookkeeping read; the other fields are read if something asks
    (:func:`current_state`).
    """
    run = by_id(model, locked=True).get(run_id, workspace_id=workspace_id)
    if run is None or run.state_id is None:
        return run
    state_model: Any = model._meta.get_field("state").related_model
    if run.state_type is not None and run.state_type not in DETAILS_READ_OUT_OF and run.state_timestamp is not None:
        known = {name: getattr(run, column) for name, column in STATE_FROM_RUN}
        known["flow_run_id" if isinstance(run, FlowRun) else "task_run_id"] = run.pk
        # ``from_db`` takes the values in the model's column order.
        names = [field.attname for field in state_model._meta.concrete_fields if field.attname in known]
        state = state_model.from_db(run._state.db, names, [known[name] for name in names])
    else:
        # Read by a compiled statement and cached on the run, so ``run.state`` costs no
        # queryset compile either.
        state = by_id(state_model).get(run.state_id, workspace_id=workspace_id)
    if state is not None:
        run.state = state
    return run


def current_state(run: FlowRun | TaskRun) -> FlowRunState | TaskRunState | None:
    """``run.state`` whole: read by its compiled statement if :func:`lock_run` left
    fields of it unread (one statement instead of one per field)."""
    state = run.state
    if state is None or not state.get_deferred_fields():
        return state
    state_model: Any = type(state)
    whole = by_id(state_model).get(state.pk, workspace_id=run.workspace_id)
    if whole is not None:
        run.state = whole
    return whole


def orchestrate(
    run: FlowRun | TaskRun,
    proposed: ProposedState,
    *,
    force: bool,
    api_version: tuple[int, int, int] | None,
) -> OrchestrationResult:
    """Evaluate ``proposed`` for a locked ``run`` inside the caller's transaction.

    ``run`` may also be a new run not inserted yet (run creation): its state row is
    written first and the run is then inserted by ``run.save()`` with its state columns
    set, so creating a run is one round of inserts and no update.

    Everything it reads and writes is of the run's workspace (``run.workspace_id``): the
    rules look up limits, cache entries and the enclosing flow run there, and every row
    written carries it.
    """
    is_task = isinstance(run, TaskRun)
    ctx = OrchestrationContext(
        run=run,
        initial=run.state,
        proposed=proposed,
        now=timezone.now(),
        force=force,
        api_version=api_version,
    )
    entered = _run_before_hooks(ctx, policy_for(task_run=is_task, force=force))
    if ctx.proposed is not None and ctx.status in (SetStateStatus.ACCEPT, SetStateStatus.REJECT):
        ctx.validated = _new_state(ctx, ctx.proposed)
    policy_before_exit = run.empirical_policy
    _run_after_hooks(ctx, entered)
    if ctx.validated is None:
        if run.empirical_policy != policy_before_exit:
            # A refused proposal can still leave a mark on the run (HandleResumingPausedFlows).
            run.save(update_fields=["empirical_policy", "updated"])
    else:
        _write_state(ctx, ctx.validated)
        if isinstance(run, FlowRun) and isinstance(ctx.validated, FlowRunState) and run.parent_task_run_id:
            _mirror_onto_parent_task(run, ctx.validated, api_version)
        if ctx.scratch.get("reset_failed_tasks") and isinstance(run, FlowRun):
            _reset_failed_task_runs(run, api_version)
    return OrchestrationResult(
        status=ctx.status,
        state=ctx.validated if ctx.validated is not None else current_state(run),
        reason=ctx.reason,
        delay_seconds=ctx.delay_seconds,
        state_written=ctx.validated is not None,
    )


def _run_before_hooks(ctx: OrchestrationContext, policy: tuple[type[Rule], ...]) -> list[tuple[Rule, str | None]]:
    """Enter the governing rules in priority order; stop once the proposal is gone.

    Each entered rule is returned with the proposed state type it answers for: the type
    it entered with or, if its ``before`` rejected, aborted or delayed the proposal, the
    type it left (``None`` when nothing is to be written).
    """
    entered: list[tuple[Rule, str | None]] = []
    for rule_class in policy:
        if ctx.proposed is None:
            break
        rule = rule_class()
        if not rule.governs(ctx.initial_type, ctx.proposed_type):
            continue
        try:
            rule.before(ctx)
        except DatabaseError:
            raise
        except Exception as error:  # a broken rule must not leave a half-made transition
            logger.exception("Orchestration rule %s failed", rule.name)
            ctx.abort(f"Aborting orchestration due to error in {rule.name}: {error!r}")
        entered.append((rule, ctx.proposed_type))
    return entered


def _run_after_hooks(ctx: OrchestrationContext, entered: list[tuple[Rule, str | None]]) -> None:
    """Exit rules in reverse order (reference: a rule "fizzles" when a later rule changed
    the proposal it answers for).

    A rule whose proposal is still the one decided on runs ``after``, even when its own
    verdict was that nothing is written (a rejected resume still marks the run); a rule
    whose proposal another rule replaced runs ``cleanup`` to undo its ``before``.
    Universal rules run ``after`` whatever happened.
    """
    for rule, answered_type in reversed(entered):
        if rule.universal or answered_type == ctx.proposed_type:
            rule.after(ctx)
        else:
            rule.cleanup(ctx)


def _new_state(ctx: OrchestrationContext, state: ProposedState) -> FlowRunState | TaskRunState:
    """Apply the global bookkeeping and make the state row (of the run's workspace) the
    run points at; :func:`_write_state` stores both once the after-hooks have run."""
    apply_bookkeeping(ctx, state)
    fields = {
        "id": state.id,
        "workspace_id": ctx.run.workspace_id,
        "type": state.type,
        "name": state.name,
        "timestamp": state.timestamp,
        "message": state.message,
        "data": state.data,
        "state_details": state.state_details,
    }
    row: FlowRunState | TaskRunState
    if isinstance(ctx.run, FlowRun):
        row = FlowRunState(flow_run=ctx.run, **fields)
    else:
        row = TaskRunState(task_run=ctx.run, **fields)
    ctx.run.state = row  # type: ignore[assignment]
    return row


def _write_state(ctx: OrchestrationContext, state: FlowRunState | TaskRunState) -> None:
    """Insert the state row and insert or update the run with it, move a flow run's share
    of the history rollup, and record a flow run's state event: one statement on
    PostgreSQL, whose SQL is written once (``orion_project.prepared.insert_then_save``,
    the event's INSERTs and the rollup's upsert as ``WITH`` items in front of it).

    The after-hooks ran before it, so their changes to the run (a flow-run try count, a
    resuming mark) are in the same write; rows they added that point at the state (a
    cache entry) are checked against it at commit.
    """
    history = ctx.history_upsert
    in_statement = history is not None and connection.vendor == "postgresql"
    if history is not None and not in_statement:
        with connection.cursor() as cursor:
            cursor.execute(*history)

    def write(with_items: str, with_params: Sequence[Any]) -> None:
        if in_statement:
            assert history is not None
            # After the event's items: the rollup's rows are locked before the event's
            # hourly count, the order of the two statements this replaced.
            with_items = f"{with_items} history AS ({history[0]}),"
            with_params = [*with_params, *history[1]]
        insert_then_save(state, ctx.run, with_items=with_items, with_params=with_params)

    if isinstance(ctx.run, FlowRun) and isinstance(state, FlowRunState):
        flow_run_state_written(ctx.run, ctx.initial, state, write)  # type: ignore[arg-type]
    else:
        write("", ())


def _mirror_onto_parent_task(run: FlowRun, state: FlowRunState, api_version: tuple[int, int, int] | None) -> None:
    """A sub-flow's new state is copied, forced, onto the task run standing for it."""
    parent = lock_run(TaskRun, run.parent_task_run_id, workspace_id=run.workspace_id)  # type: ignore[arg-type]
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
    for task_run in TaskRun.objects.select_for_update().filter(
        workspace_id=run.workspace_id, flow_run=run, state_type__in=[StateType.FAILED, StateType.CRASHED]
    ):
        retry = ProposedState.make(type=StateType.SCHEDULED, name=StateName.AWAITING_RETRY, timestamp=now)
        orchestrate(task_run, retry, force=True, api_version=api_version)
