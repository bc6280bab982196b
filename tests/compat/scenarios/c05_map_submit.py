"""Hundreds of tasks per flow run with .map and .submit; all recorded and counted."""

import asyncio

from _support import RUN_ID, check, client, filters, run
from prefect import flow, task

COUNT = 200


@task
def square(x):
    return x * x


@task
def total(values):
    return sum(values)


@flow(name=f"compat-c05-{RUN_ID}")
def fan_out():
    squares = square.map(range(COUNT))
    extra = [square.submit(i) for i in range(50)]
    return total(squares) + sum(f.result() for f in extra)


async def counts(run_id):
    async with client() as api:
        run_filter = filters.FlowRunFilter(id=filters.FlowRunFilterId(any_=[run_id]))
        done = filters.TaskRunFilter(
            state=filters.TaskRunFilterState(type=filters.TaskRunFilterStateType(any_=["COMPLETED"]))
        )
        everything = await api.read_task_runs(flow_run_filter=run_filter, limit=200)
        page_two = await api.read_task_runs(flow_run_filter=run_filter, limit=200, offset=200)
        return len(everything) + len(page_two), await count_completed(api, run_filter, done)


async def count_completed(api, run_filter, done):
    response = await api._client.post(
        "/task_runs/count",
        json={"flow_runs": run_filter.dict(json_compatible=True), "task_runs": done.dict(json_compatible=True)},
    )
    response.raise_for_status()
    return response.json()


def main():
    state = fan_out(return_state=True)
    expected = sum(i * i for i in range(COUNT)) + sum(i * i for i in range(50))
    check(state.result() == expected, f"result {state.result()!r}")
    listed, completed = asyncio.run(counts(state.state_details.flow_run_id))
    check(listed == COUNT + 51, f"{listed} task runs listed over two pages")
    check(completed == COUNT + 51, f"{completed} COMPLETED task runs counted")
    return f"task_runs={listed}"


if __name__ == "__main__":
    run(main)
