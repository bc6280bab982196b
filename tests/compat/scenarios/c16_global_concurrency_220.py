"""2.20: flows guarded by `concurrency("name", occupy=1)` never overlap when run at the same
time, and `rate_limit("name")` spaces calls by the limit's slot decay."""

import asyncio
import contextlib
import itertools
import threading
import time

from _support import RUN_ID, as_developer, check, client, run
from prefect import flow, get_run_logger, task
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency, rate_limit

LIMIT = f"compat-c16-{RUN_ID}"
RATE = f"compat-c16-rate-{RUN_ID}"
spans: list[tuple[float, float]] = []
lock = threading.Lock()


@task
def guarded(index):
    with concurrency(LIMIT, occupy=1):
        started = time.monotonic()
        time.sleep(0.5)
        with lock:
            spans.append((started, time.monotonic()))
    return index


@flow(name=f"compat-c16-{RUN_ID}")
def fan_out():
    # The 2.20 client can deadlock itself here, whatever the server answers. Its background
    # services (the API log worker, the concurrency-slot service) are made under one lock
    # shared by all of them; a task thread that makes the slot service holds that lock
    # while it waits for the client's event-loop thread to start it, and that loop thread,
    # busy logging the task runs it creates, waits for the same lock in its log handler.
    # So the flow makes both services itself, while the loop thread is idle waiting for
    # this body: a log line (the log worker), then one pass through the limit (the slot
    # service, keyed by the limit's name). The guarded tasks then only look them up.
    get_run_logger().info("fanning out 4 guarded tasks")
    with concurrency(LIMIT, occupy=1):
        pass
    futures = [guarded.submit(i) for i in range(4)]
    return [future.result() for future in futures]


@flow(name=f"compat-c16-rate-{RUN_ID}")
def throttled():
    stamps = []
    for _ in range(4):
        rate_limit(RATE, occupy=1)
        stamps.append(time.monotonic())
    return stamps


async def setup():
    with as_developer():
        async with client() as api:
            for name in (LIMIT, RATE):
                with contextlib.suppress(Exception):  # left over from an earlier run
                    await api.delete_global_concurrency_limit_by_name(name)
            await api.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=LIMIT, limit=1))
            await api.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=RATE, limit=1, slot_decay_per_second=2.0)
            )


async def limit_state(name):
    async with client() as api:
        return await api.read_global_concurrency_limit_by_name(name)


def main():
    asyncio.run(setup())
    state = fan_out(return_state=True)
    check(state.type.value == "COMPLETED", f"state {state.type}")
    ordered = sorted(spans)
    check(len(ordered) == 4, f"{len(ordered)} guarded sections ran")
    overlaps = [(a, b) for a, b in itertools.pairwise(ordered) if b[0] < a[1] - 0.01]
    check(not overlaps, f"guarded sections overlapped: {overlaps}")
    held = asyncio.run(limit_state(LIMIT))
    check(held.active_slots == 0, f"slots still held: {held.active_slots}")

    stamps = throttled()
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    check(sum(gaps) >= 1.0, f"rate limit did not space the calls: {gaps}")
    return f"4 sections one at a time; rate-limited gaps {[round(g, 2) for g in gaps]}"


if __name__ == "__main__":
    run(main)
