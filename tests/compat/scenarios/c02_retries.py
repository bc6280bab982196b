"""Task retries with and without delays, and flow retries: run counts and final states."""

import asyncio
import time

from _support import RUN_ID, check, flow_run, run, state_type, task_runs_of
from prefect import flow, task

ATTEMPTS = {"quick": 0, "delayed": 0, "flow": 0}


@task(retries=2)
def quick():
    ATTEMPTS["quick"] += 1
    if ATTEMPTS["quick"] < 3:
        raise ValueError("not yet")
    return "ok"


@task(retries=1, retry_delay_seconds=2)
def delayed():
    ATTEMPTS["delayed"] += 1
    if ATTEMPTS["delayed"] < 2:
        raise ValueError("later")
    return "ok"


@flow(name=f"compat-c02-{RUN_ID}", retries=1)
def retrying():
    ATTEMPTS["flow"] += 1
    results = (quick(), delayed())
    if ATTEMPTS["flow"] < 2:
        raise RuntimeError("flow fails once")
    return results


def main():
    started = time.monotonic()
    state = retrying(return_state=True)
    check(state_type(state) == "COMPLETED", f"local state {state_type(state)}: {state.message}")
    check(time.monotonic() - started >= 2, "retry_delay_seconds was not honoured")
    run_id = state.state_details.flow_run_id
    recorded = asyncio.run(flow_run(run_id))
    check(recorded.run_count == 2, f"flow run_count {recorded.run_count}, expected 2")
    tasks = {t.task_key.split(".")[-1].split("-")[0]: t for t in asyncio.run(task_runs_of(run_id))}
    check(tasks["quick"].run_count == 3, f"quick run_count {tasks['quick'].run_count}")
    check(tasks["delayed"].run_count == 2, f"delayed run_count {tasks['delayed'].run_count}")
    check(all(state_type(t.state) == "COMPLETED" for t in tasks.values()), "tasks not COMPLETED")
    return "flow run_count=2 quick=3 delayed=2"


if __name__ == "__main__":
    run(main)
