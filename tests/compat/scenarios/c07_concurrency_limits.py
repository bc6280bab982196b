"""Tag concurrency limits: tasks over the limit WAIT, then run when slots free; 0 aborts."""

import asyncio
import time

from _support import RUN_ID, as_developer, check, client, run, state_type, task_runs_of
from prefect import flow, task

TAG = f"compat-c07-{RUN_ID}"
BLOCKED = f"compat-c07-zero-{RUN_ID}"


@task(tags=[TAG])
def hold(i):
    time.sleep(1)
    return i


@task(tags=[BLOCKED])
def never():
    return "ran"


@flow(name=f"compat-c07-{RUN_ID}")
def limited():
    futures = [hold.submit(i) for i in range(2)]
    return [f.result() for f in futures]


@flow(name=f"compat-c07-zero-{RUN_ID}")
def zero():
    return never(return_state=True)


async def set_limits():
    with as_developer():
        async with client() as api:
            await api.create_concurrency_limit(tag=TAG, concurrency_limit=1)
            await api.create_concurrency_limit(tag=BLOCKED, concurrency_limit=0)


async def cleanup():
    with as_developer():
        async with client() as api:
            slots = (await api.read_concurrency_limit_by_tag(TAG)).active_slots
            await api.delete_concurrency_limit_by_tag(TAG)
            await api.delete_concurrency_limit_by_tag(BLOCKED)
            return slots


def main():
    asyncio.run(set_limits())
    started = time.monotonic()
    state = limited(return_state=True)
    took = time.monotonic() - started
    check(sorted(state.result()) == [0, 1], f"result {state.result()!r}")
    check(took >= 30, f"the second task did not wait for the slot ({took:.1f}s)")
    tasks = asyncio.run(task_runs_of(state.state_details.flow_run_id))
    check(all(state_type(t.state) == "COMPLETED" for t in tasks), "tasks not COMPLETED")
    aborted = zero(return_state=True)
    check(
        state_type(aborted) != "COMPLETED" or state_type(aborted.result()) != "COMPLETED",
        "a limit of 0 let the task run",
    )
    slots = asyncio.run(cleanup())
    check(slots == [], f"slots not released: {slots}")
    return f"waited {took:.0f}s; limit 0 aborted"


if __name__ == "__main__":
    run(main)
