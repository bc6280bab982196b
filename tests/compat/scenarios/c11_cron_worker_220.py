"""2.20: a cron deployment on a `process` work pool; the scheduler creates runs on the cron
times and `prefect worker start` executes one to COMPLETED."""

import asyncio
import os
import tempfile
import warnings

from _support import (
    RUN_ID,
    as_developer,
    check,
    client,
    filters,
    run,
    start_background,
    state_type,
    stop_background,
    wait_for,
)

POOL = f"compat-c11-{RUN_ID}"
FLOW_NAME = f"compat-c11-{RUN_ID}"
SOURCE = f'''
from prefect import flow

@flow(name="{FLOW_NAME}")
def every_minute():
    return "tick"
'''


async def create_pool():
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    with as_developer():
        async with client() as api:
            await api.create_work_pool(
                WorkPoolCreate(
                    name=POOL, type="process", base_job_template=ProcessWorker.get_default_base_job_template()
                )
            )


async def runs_of(deployment_id):
    async with client() as api:
        return await api.read_flow_runs(
            deployment_filter=filters.DeploymentFilter(id=filters.DeploymentFilterId(any_=[deployment_id])), limit=50
        )


async def completed(deployment_id):
    done = [r for r in await runs_of(deployment_id) if state_type(r.state) == "COMPLETED"]
    return done[0] if done else None


def main():
    warnings.simplefilter("ignore")
    from prefect import flow

    workdir = tempfile.mkdtemp(prefix="compat-c11-")
    with open(os.path.join(workdir, "c11_flow.py"), "w") as handle:
        handle.write(SOURCE)
    asyncio.run(create_pool())
    remote = flow.from_source(source=workdir, entrypoint="c11_flow.py:every_minute")
    with as_developer():
        deployment_id = remote.deploy(
            name="cron", work_pool_name=POOL, cron="* * * * *", build=False, push=False, print_next_steps=False
        )
    runs = asyncio.run(wait_for(lambda: runs_of(deployment_id), timeout=30))
    check(runs, "the scheduler created no runs")
    minutes = [(r.next_scheduled_start_time or r.expected_start_time) for r in runs]
    check(all(t.second == 0 and t.microsecond == 0 for t in minutes), f"runs off the cron times: {minutes[:3]}")
    os.environ.setdefault("PREFECT_WORKER_QUERY_SECONDS", "2")
    os.environ.setdefault("PREFECT_WORKER_PREFETCH_SECONDS", "10")
    os.chdir(workdir)
    worker = start_background("worker", "start", "--pool", POOL, "--type", "process")
    try:
        done = asyncio.run(wait_for(lambda: completed(deployment_id), timeout=120, interval=1))
    finally:
        stop_background(worker)
    check(done is not None, "the worker completed no scheduled run")
    check(done.work_pool_name == POOL, f"run pool {done.work_pool_name!r}")
    return f"deployment={deployment_id} scheduled={len(runs)} completed={done.id}"


if __name__ == "__main__":
    run(main)
