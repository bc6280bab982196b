"""Global bookkeeping: what every written state does to its run (reference §F.5).

It runs on every transition that writes a state, forced or not, just before the state
row is inserted: the run's denormalised state columns, its timing fields and counters.
"""

from __future__ import annotations

from runs_app.models import FlowRun
from runs_app.orchestration.context import OrchestrationContext, ProposedState
from runs_app.orchestration.timing import advance_run_timing
from runs_app.rollup.writes import flow_run_history_statement, run_values
from runs_app.states import TERMINAL_STATE_TYPES, StateType


def apply_bookkeeping(ctx: OrchestrationContext, state: ProposedState) -> None:
    """Update ``ctx.run`` for the state about to be written (it is saved by the engine),
    and make the upsert that moves a flow run's share of the history rollup to its new
    state (``ctx.history_upsert``, run by the engine with the state write)."""
    run = ctx.run
    initial = ctx.initial
    initial_type = initial.type if initial is not None else None
    before = run_values(run) if isinstance(run, FlowRun) else None

    advance_run_timing(
        run,
        initial_type=initial_type,
        initial_timestamp=initial.timestamp if initial is not None else None,
        state_type=state.type,
        state_name=state.name,
        state_timestamp=state.timestamp,
        scheduled_time=state.scheduled_time() if state.type == StateType.SCHEDULED else None,
    )

    # UpdateStateDetails
    if isinstance(run, FlowRun):
        state.state_details["flow_run_id"] = str(run.id)
        if run.parent_task_run_id is not None:  # UpdateSubflowStateDetails
            state.state_details["task_run_id"] = str(run.parent_task_run_id)
        _flow_run_counters(ctx, run, state)
        assert before is not None
        ctx.history_upsert = flow_run_history_statement(before, run_values(run))
    else:
        state.state_details["task_run_id"] = str(run.id)
        if run.flow_run_id is not None:
            state.state_details["flow_run_id"] = str(run.flow_run_id)
        if state.type == StateType.RUNNING:  # IncrementTaskRunCount
            run.run_count += 1


def _flow_run_counters(ctx: OrchestrationContext, run: FlowRun, state: ProposedState) -> None:
    """IncrementFlowRunCount and RemoveResumingIndicator."""
    policy = dict(run.empirical_policy or {})
    resuming = bool(policy.get("resuming"))
    if state.type == StateType.RUNNING and (not resuming or ctx.api_older_than((0, 8, 4))):
        run.run_count += 1
    leaves_pause = state.type == StateType.RUNNING or state.type in TERMINAL_STATE_TYPES
    if resuming and leaves_pause and not ctx.api_older_than((0, 8, 4)):
        policy["resuming"] = False
        run.empirical_policy = policy
