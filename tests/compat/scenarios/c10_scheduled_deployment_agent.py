"""A deployment on an interval schedule: the scheduler service creates its runs (never
twice for one time) and `prefect agent start` executes one to COMPLETED."""

import asyncio
import datetime as dt
import importlib
import os
import sys
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

QUEUE = f"compat-c10-{RUN_ID}"
FLOW_NAME = f"compat-c10-{RUN_ID}"
SOURCE = f'''
from prefect import flow

@flow(name="{FLOW_NAME}")
def scheduled(x: int = 1):
    return x * 2
'''


def apply_deployment(workdir):
    try:
        from prefect.client.schemas.schedules import IntervalSchedule
    except ImportError:
        from prefect.orion.schemas.schedules import IntervalSchedule
    from prefect.deployments import Deployment

    with open(os.path.join(workdir, "c10_flow.py"), "w") as handle:
        handle.write(SOURCE)
    os.chdir(workdir)
    sys.path.insert(0, workdir)
    module = importlib.import_module("c10_flow")
    # One run a minute: the agent starts a process for every run inside its prefetch window,
    # and on a busy CI machine a new `python -m prefect.engine` every ten seconds starved
    # them all (every run stayed PENDING, no process got through its imports).
    schedule = IntervalSchedule(interval=dt.timedelta(seconds=60), anchor_date=dt.datetime.now(dt.UTC))
    deployment = Deployment.build_from_flow(
        flow=module.scheduled, name="every-minute", work_queue_name=QUEUE, schedule=schedule
    )
    return deployment.apply()


async def scheduled_runs(deployment_id):
    async with client() as api:
        return await api.read_flow_runs(
            deployment_filter=filters.DeploymentFilter(id=filters.DeploymentFilterId(any_=[deployment_id])),
            limit=200,
        )


async def completed_run(deployment_id):
    runs = await scheduled_runs(deployment_id)
    done = [r for r in runs if state_type(r.state) == "COMPLETED"]
    return done[0] if done else None


async def stop_schedule(deployment_id):
    with as_developer():
        async with client() as api:
            await api._client.post(f"/deployments/{deployment_id}/set_schedule_inactive")


def main():
    warnings.simplefilter("ignore")
    workdir = tempfile.mkdtemp(prefix="compat-c10-")
    with as_developer():
        deployment_id = apply_deployment(workdir)
    runs = asyncio.run(wait_for(lambda: scheduled_runs(deployment_id), timeout=30))
    check(runs, "the scheduler created no runs")
    check(all(r.auto_scheduled and "auto-scheduled" in r.tags for r in runs), "runs not marked auto-scheduled")
    times = [r.next_scheduled_start_time or r.expected_start_time for r in runs]
    check(len(times) == len(set(times)), "the scheduler created two runs for one time")
    os.environ.setdefault("PREFECT_AGENT_QUERY_INTERVAL", "2")
    os.environ.setdefault("PREFECT_AGENT_PREFETCH_SECONDS", "15")
    agent = start_background("agent", "start", "-q", QUEUE)
    try:
        done = asyncio.run(wait_for(lambda: completed_run(deployment_id), timeout=150, interval=1))
    finally:
        asyncio.run(stop_schedule(deployment_id))
        stop_background(agent)
    if done is None:
        # Say where the runs stood, so a failure in CI explains itself.
        states = sorted(
            (str(r.expected_start_time), state_type(r.state), r.state.name if r.state else None)
            for r in asyncio.run(scheduled_runs(deployment_id))
        )
        print("first runs (expected start, state type, state name):", states[:8], flush=True)
    check(done is not None, "the agent completed no scheduled run")
    check(done.work_queue_name == QUEUE, f"run queue {done.work_queue_name!r}")
    return f"deployment={deployment_id} scheduled={len(runs)} completed={done.id}"


if __name__ == "__main__":
    run(main)
