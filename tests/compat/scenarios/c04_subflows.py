"""Sub-flows: the child links to its parent's task run, which mirrors the child's state."""

import asyncio

from _support import RUN_ID, check, client, filters, flow_run, run, state_type, task_runs_of
from prefect import flow, task


@task
def one():
    return 1


@flow(name=f"compat-c04-child-{RUN_ID}")
def child(x: int):
    return x + one()


@flow(name=f"compat-c04-parent-{RUN_ID}")
def parent():
    return child(1) + child(2)


async def subflow_runs(parent_id):
    async with client() as api:
        placeholders = await api.read_task_runs(
            flow_run_filter=filters.FlowRunFilter(id=filters.FlowRunFilterId(any_=[parent_id]))
        )
        children = await api.read_flow_runs(
            flow_run_filter=filters.FlowRunFilter(
                parent_task_run_id=filters.FlowRunFilterParentTaskRunId(any_=[t.id for t in placeholders])
            )
        )
        return placeholders, children


def main():
    state = parent(return_state=True)
    check(state.result() == 5, f"result {state.result()!r}")
    parent_id = state.state_details.flow_run_id
    placeholders, children = asyncio.run(subflow_runs(parent_id))
    check(len(children) == 2, f"{len(children)} child runs found by parent_task_run_id")
    by_id = {t.id: t for t in placeholders}
    for child_run in children:
        mirror = by_id[child_run.parent_task_run_id]
        check(state_type(mirror.state) == "COMPLETED", f"placeholder state {state_type(mirror.state)}")
        check(mirror.state.state_details.child_flow_run_id == child_run.id, "child_flow_run_id not set")
        inner = asyncio.run(task_runs_of(child_run.id))
        check(len(inner) == 1, "child's own task run missing")
    check(state_type(asyncio.run(flow_run(parent_id)).state) == "COMPLETED", "parent not COMPLETED")
    return f"parent={parent_id} children={len(children)}"


if __name__ == "__main__":
    run(main)
