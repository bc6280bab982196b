"""Task caching with cache_key_fn: the second run is Cached; an expired key is not used."""

import asyncio
import datetime as dt
import time

from _support import RUN_ID, check, run, state_type, task_runs_of
from prefect import flow, task

CALLS = {"kept": 0, "short": 0}


@task(cache_key_fn=lambda context, parameters: f"compat-c06-kept-{RUN_ID}-{parameters['x']}")
def kept(x):
    CALLS["kept"] += 1
    return x * 10


@task(
    cache_key_fn=lambda context, parameters: f"compat-c06-short-{RUN_ID}",
    cache_expiration=dt.timedelta(seconds=1),
)
def short():
    CALLS["short"] += 1
    return CALLS["short"]


@flow(name=f"compat-c06-{RUN_ID}")
def cached(x: int):
    return kept(x), short()


def main():
    first = cached(4, return_state=True)
    check(first.result() == (40, 1), f"first result {first.result()!r}")
    time.sleep(1.5)
    second = cached(4, return_state=True)
    check(second.result()[0] == 40 and CALLS["kept"] == 1, f"kept ran {CALLS['kept']} times")
    check(CALLS["short"] == 2, f"the expired cache was used ({CALLS['short']} calls)")
    tasks = asyncio.run(task_runs_of(second.state_details.flow_run_id))
    names = sorted(t.state.name for t in tasks)
    check("Cached" in names, f"second run's task states {names}")
    check(all(state_type(t.state) == "COMPLETED" for t in tasks), "task runs not COMPLETED")
    return f"states={names}"


if __name__ == "__main__":
    run(main)
