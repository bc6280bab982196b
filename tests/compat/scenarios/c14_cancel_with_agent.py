"""Cancelling a flow run from the API while an agent runs it: CANCELLING, the agent stops
the process, the run ends CANCELLED."""

import asyncio
import importlib
import os
import sys
import tempfile
import warnings

from _support import RUN_ID, as_developer, check, client, run, start_background, state_type, stop_background, wait_for

QUEUE = f"compat-c14-{RUN_ID}"
FLOW_NAME = f"compat-c14-{RUN_ID}"
SOURCE = f'''
import time
from prefect import flow

@flow(name="{FLOW_NAME}")
def slow():
    time.sleep(300)
'''


def apply_deployment(workdir):
    from prefect.deployments import Deployment

    with open(os.path.join(workdir, "c14_flow.py"), "w") as handle:
        handle.write(SOURCE)
    os.chdir(workdir)
    sys.path.insert(0, workdir)
    module = importlib.import_module("c14_flow")
    return Deployment.build_from_flow(flow=module.slow, name="slow", work_queue_name=QUEUE).apply()


async def run_state(run_id):
    async with client() as api:
        return state_type((await api.read_flow_run(run_id)).state)


def main():
    warnings.simplefilter("ignore")
    from prefect.states import State

    workdir = tempfile.mkdtemp(prefix="compat-c14-")
    with as_developer():
        deployment_id = apply_deployment(workdir)

    async def create():
        async with client() as api:
            return (await api.create_flow_run_from_deployment(deployment_id)).id

    run_id = asyncio.run(create())
    os.environ.setdefault("PREFECT_AGENT_QUERY_INTERVAL", "2")
    agent = start_background("agent", "start", "-q", QUEUE)
    try:

        async def running():
            return await run_state(run_id) == "RUNNING"

        check(asyncio.run(wait_for(running, timeout=60)), "the agent never started the run")

        async def cancel():
            async with client() as api:
                return await api.set_flow_run_state(run_id, State(type="CANCELLING", name="Cancelling"))

        result = asyncio.run(cancel())
        check(getattr(result.status, "value", result.status) == "ACCEPT", f"CANCELLING was {result.status}")

        async def cancelled():
            return await run_state(run_id) == "CANCELLED"

        check(asyncio.run(wait_for(cancelled, timeout=90, interval=1)), f"run ended {asyncio.run(run_state(run_id))}")
    finally:
        stop_background(agent, grace=2)
    return f"run={run_id} CANCELLED by the agent"


if __name__ == "__main__":
    run(main)
