"""The `prefect` CLI against the server: the list commands show what the API holds."""

import asyncio

from _support import RUN_ID, as_developer, check, client, flow_run, prefect_cli, run
from prefect import flow

NAME = f"compat-c13-{RUN_ID}"


@flow(name=NAME)
def listed():
    return 1


async def prepare():
    with as_developer():
        async with client() as api:
            await api.create_concurrency_limit(tag=NAME, concurrency_limit=2)
            await api.create_work_queue(name=NAME)


def main():
    state = listed(return_state=True)
    asyncio.run(prepare())
    recorded = asyncio.run(flow_run(state.state_details.flow_run_id))
    runs = prefect_cli("flow-run", "ls", "--flow-name", NAME)
    check(recorded.name in runs and "COMPLETED" in runs, f"flow-run ls misses the run: {runs[-400:]!r}")
    check(NAME in prefect_cli("concurrency-limit", "ls"), "concurrency-limit ls misses the limit")
    check(NAME in prefect_cli("work-queue", "ls"), "work-queue ls misses the queue")
    prefect_cli("deployment", "ls")
    prefect_cli("block", "ls")
    return "flow-run, concurrency-limit, work-queue, deployment and block ls all answered"


if __name__ == "__main__":
    run(main)
