"""A flow calling tasks that return values; everything recorded COMPLETED with the results."""

import asyncio

from _support import RUN_ID, check, flow_run, run, state_type, task_runs_of
from prefect import flow, task


@task
def add(x, y):
    return x + y


@task
def double(x):
    return 2 * x


@flow(name=f"compat-c01-{RUN_ID}")
def arithmetic(x: int = 3):
    # .submit returns futures, so the dependency is recorded in the second task's inputs
    return double.submit(add.submit(x, 4)).result()


def main():
    state = arithmetic(3, return_state=True)
    check(state_type(state) == "COMPLETED", f"local state {state_type(state)}")
    check(state.result() == 14, f"result {state.result()!r}")
    run_id = state.state_details.flow_run_id
    recorded = asyncio.run(flow_run(run_id))
    check(state_type(recorded.state) == "COMPLETED", "flow run not COMPLETED in the API")
    check(recorded.run_count == 1 and recorded.start_time and recorded.end_time, "bookkeeping missing")
    tasks = asyncio.run(task_runs_of(run_id))
    check(sorted(state_type(t.state) for t in tasks) == ["COMPLETED", "COMPLETED"], "task runs not COMPLETED")
    upstream = [t for t in tasks if t.task_inputs.get("x")]
    check(upstream, "the downstream task lost its task_inputs")
    add_run = next(t for t in tasks if not t.task_inputs.get("x"))
    check(upstream[0].task_inputs["x"][0].id == add_run.id, "task_inputs does not point at the upstream run")
    return f"flow_run={run_id} tasks={len(tasks)}"


if __name__ == "__main__":
    run(main)
