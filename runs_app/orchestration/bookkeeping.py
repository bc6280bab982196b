"""Global bookkeeping: what every written state does to its run (reference §F.5).

It runs on every transition that writes a state, forced or not, just before the state
row is inserted: the run's denormalised state columns, its timing fields and counters.
"""

from __future__ import annotations

import datetime as dt

from runs_app.models import FlowRun
from runs_app.orchestration.context import OrchestrationContext, ProposedState
from runs_app.rollup.writes import flow_run_history_record, run_values
from runs_app.states import TERMINAL_STATE_TYPES, StateType


def apply_bookkeeping(ctx: OrchestrationContext, state: ProposedState) -> None:
    """Update ``ctx.run`` for the state about to be written (it is saved by the engine),
    and move a flow run's share of the history rollup to its new state (one upsert)."""
    run = ctx.run
    initial = ctx.initial
    initial_type = initial.type if initial is not None else None
    before = run_values(run) if isinstance(run, FlowRun) else None

    # SetRunStateType / SetRunStateName / SetRunStateTimestamp
    run.state_type = state.type
    run.state_name = state.name
    run.state_timestamp = state.timestamp

    # SetStartTime: first entry into RUNNING
    if state.type == StateType.RUNNING and run.start_time is None:
        run.start_time = state.timestamp

    # SetEndTime: cleared when leaving a terminal state, set on entering one after a start
    if initial_type in TERMINAL_STATE_TYPES and state.type not in TERMINAL_STATE_TYPES:
        run.end_time = None
    if state.type in TERMINAL_STATE_TYPES and run.start_time is not None and run.end_time is None:
        run.end_time = state.timestamp

    # IncrementRunTime: leaving RUNNING adds the time spent running
    if initial is not None and initial_type == StateType.RUNNING:
        run.total_run_time = (run.total_run_time or dt.timedelta(0)) + (state.timestamp - initial.timestamp)

    # SetExpectedStartTime: once, from the first state
    if run.expected_start_time is None:
        run.expected_start_time = (
            state.scheduled_time() if state.type == StateType.SCHEDULED else None
        ) or state.timestamp

    # SetNextScheduledStartTime
    if state.type == StateType.SCHEDULED:
        run.next_scheduled_start_time = state.scheduled_time()
    elif initial_type == StateType.SCHEDULED:
        run.next_scheduled_start_time = None

    # UpdateStateDetails
    if isinstance(run, FlowRun):
        state.state_details["flow_run_id"] = str(run.id)
        if run.parent_task_run_id is not None:  # UpdateSubflowStateDetails
            state.state_details["task_run_id"] = str(run.parent_task_run_id)
        _flow_run_counters(ctx, run, state)
        assert before is not None
        flow_run_history_record(before, run_values(run))
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
