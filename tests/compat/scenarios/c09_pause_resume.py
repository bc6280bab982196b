"""A flow pauses itself; another client resumes it through the API; it completes."""

import asyncio
import threading
import time

from _support import RUN_ID, check, client, filters, flow_run, run, state_type, wait_for
from prefect import flow, pause_flow_run, task


@task
def after():
    return "resumed"


@flow(name=f"compat-c09-{RUN_ID}")
def pausing():
    pause_flow_run(timeout=60, poll_interval=1)
    return after()


async def paused_run():
    async with client() as api:
        runs = await api.read_flow_runs(
            flow_filter=filters.FlowFilter(name=filters.FlowFilterName(any_=[f"compat-c09-{RUN_ID}"])),
            flow_run_filter=filters.FlowRunFilter(
                state=filters.FlowRunFilterState(type=filters.FlowRunFilterStateType(any_=["PAUSED"]))
            ),
        )
        return runs[0] if runs else None


def resumer(errors):
    try:
        run_ = asyncio.run(wait_for(paused_run, timeout=40))
        if run_ is None:
            errors.append("the run never paused")
            return
        time.sleep(1)

        async def resume():
            async with client() as api:
                return await api.resume_flow_run(run_.id)

        asyncio.run(resume())
    except Exception as error:  # reported by main
        errors.append(repr(error))


def main():
    errors: list[str] = []
    thread = threading.Thread(target=resumer, args=(errors,))
    thread.start()
    state = pausing(return_state=True)
    thread.join(timeout=60)
    check(not errors, f"resumer: {errors}")
    check(state_type(state) == "COMPLETED" and state.result() == "resumed", f"state {state_type(state)}")
    recorded = asyncio.run(flow_run(state.state_details.flow_run_id))
    # The reference counts the resume's RUNNING as an entry (IncrementFlowRunCount runs before
    # HandleResumingPausedFlows marks the run resuming), so a paused-and-resumed run has 2.
    check(recorded.run_count == 2, f"run_count {recorded.run_count}: the reference counts the resume")
    check(len(recorded.empirical_policy.pause_keys) == 1, "pause key not recorded")
    return f"paused and resumed; run_count={recorded.run_count}"


if __name__ == "__main__":
    run(main)
