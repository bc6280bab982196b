"""The run columns every written state moves: one definition for the engine and the seeder.

``apply_bookkeeping`` calls it for each state the engine writes; the seeder
(``runs_app.seeding``) replays it over a run's generated states, so seeded runs carry the
very columns the engine would have left. Pure: it touches only the attributes it names.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from runs_app.states import TERMINAL_STATE_TYPES, StateType


def advance_run_timing(
    run: Any,
    *,
    initial_type: str | None,
    initial_timestamp: dt.datetime | None,
    state_type: str,
    state_name: str,
    state_timestamp: dt.datetime,
    scheduled_time: dt.datetime | None,
) -> None:
    """Set ``run``'s state columns, start/end/total run time and expected and next
    scheduled start for a state of ``state_type`` following one of ``initial_type``."""
    # SetRunStateType / SetRunStateName / SetRunStateTimestamp
    run.state_type = state_type
    run.state_name = state_name
    run.state_timestamp = state_timestamp

    # SetStartTime: first entry into RUNNING
    if state_type == StateType.RUNNING and run.start_time is None:
        run.start_time = state_timestamp

    # SetEndTime: cleared when leaving a terminal state, set on entering one after a start
    if initial_type in TERMINAL_STATE_TYPES and state_type not in TERMINAL_STATE_TYPES:
        run.end_time = None
    if state_type in TERMINAL_STATE_TYPES and run.start_time is not None and run.end_time is None:
        run.end_time = state_timestamp

    # IncrementRunTime: leaving RUNNING adds the time spent running
    if initial_timestamp is not None and initial_type == StateType.RUNNING:
        run.total_run_time = (run.total_run_time or dt.timedelta(0)) + (state_timestamp - initial_timestamp)

    # SetExpectedStartTime: once, from the first state
    if run.expected_start_time is None:
        run.expected_start_time = (scheduled_time if state_type == StateType.SCHEDULED else None) or state_timestamp

    # SetNextScheduledStartTime
    if state_type == StateType.SCHEDULED:
        run.next_scheduled_start_time = scheduled_time
    elif initial_type == StateType.SCHEDULED:
        run.next_scheduled_start_time = None
