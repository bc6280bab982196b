"""A failing task inside a failing flow: FAILED states with the exception text recorded."""

import asyncio

from _support import RUN_ID, check, flow_run, run, state_type, task_runs_of
from prefect import flow, task


@task
def explode():
    raise ValueError(f"task-boom-{RUN_ID}")


@flow(name=f"compat-c03-{RUN_ID}")
def failing():
    explode()


def main():
    state = failing(return_state=True)
    check(state_type(state) == "FAILED", f"local state {state_type(state)}")
    run_id = state.state_details.flow_run_id
    recorded = asyncio.run(flow_run(run_id))
    check(state_type(recorded.state) == "FAILED", "flow run not FAILED in the API")
    check(recorded.end_time is not None, "no end_time on a failed run")
    tasks = asyncio.run(task_runs_of(run_id))
    check([state_type(t.state) for t in tasks] == ["FAILED"], "task run not FAILED")
    check(f"task-boom-{RUN_ID}" in (tasks[0].state.message or ""), f"task message {tasks[0].state.message!r}")
    check(recorded.state.message, "flow run state has no message")
    return f"flow_run={run_id} message={recorded.state.message[:60]!r}"


if __name__ == "__main__":
    run(main)
