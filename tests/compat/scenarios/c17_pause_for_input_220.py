"""2.20: a flow pauses with `wait_for_input=`; another process finds it, resumes it with
`resume_flow_run(run_input=...)`, then sends it more input with `send_input`, which the
flow reads with `receive_input`."""

import asyncio
import os
import subprocess
import sys
import textwrap

from _support import RUN_ID, check, client, flow_run, run
from prefect import flow, pause_flow_run
from prefect.input import RunInput
from prefect.input.run_input import receive_input

FLOW_NAME = f"compat-c17-{RUN_ID}"


class Approval(RunInput):
    approved: bool
    comment: str = ""


@flow(name=FLOW_NAME)
def approving():
    approval = pause_flow_run(wait_for_input=Approval, timeout=150)
    notes = []
    for note in receive_input(str, timeout=30, poll_interval=0.5):
        notes.append(note)
        if len(notes) == 2:
            break
    return approval.approved, approval.comment, notes


RESUMER = textwrap.dedent(
    f"""
    import asyncio, time
    from prefect import get_client
    from prefect.client.schemas import filters
    from prefect.engine import resume_flow_run
    from prefect.input.run_input import send_input

    async def paused():
        async with get_client() as api:
            runs = await api.read_flow_runs(
                flow_filter=filters.FlowFilter(name=filters.FlowFilterName(any_=["{FLOW_NAME}"])),
                flow_run_filter=filters.FlowRunFilter(
                    state=filters.FlowRunFilterState(type=filters.FlowRunFilterStateType(any_=["PAUSED"]))
                ),
            )
            return runs[0] if runs else None

    async def main():
        deadline = time.monotonic() + 120
        found = None
        while found is None and time.monotonic() < deadline:
            found = await paused()
            await asyncio.sleep(0.5)
        if found is None:
            raise SystemExit("the run never paused")
        await resume_flow_run(found.id, run_input={{"approved": True, "comment": "ship it"}})
        await send_input("first note", flow_run_id=found.id)
        await send_input("second note", flow_run_id=found.id)

    asyncio.run(main())
    """
)


async def inputs_of(flow_run_id):
    async with client() as api:
        return await api.filter_flow_run_input(flow_run_id=flow_run_id, key_prefix="", limit=100, exclude_keys=set())


def main():
    resumer = subprocess.Popen([sys.executable, "-c", RESUMER], env=os.environ.copy())
    try:
        state = approving(return_state=True)
    finally:
        resumer.wait(timeout=150)
    check(resumer.returncode == 0, f"resumer exited {resumer.returncode}")
    check(state.type.value == "COMPLETED", f"state {state.type}: {state.message}")
    approved, comment, notes = state.result()
    check(approved is True and comment == "ship it", f"input {approved!r} {comment!r}")
    check(notes == ["first note", "second note"], f"notes {notes}")
    recorded = asyncio.run(flow_run(state.state_details.flow_run_id))
    # Both references count the resume's RUNNING (the resuming mark is set after the count).
    check(recorded.run_count == 2, f"run_count {recorded.run_count}")
    stored = asyncio.run(inputs_of(state.state_details.flow_run_id))
    check(len(stored) >= 4, f"{len(stored)} inputs stored (schema, response, two notes)")
    return f"resumed with input from another process; {len(notes)} notes received"


if __name__ == "__main__":
    run(main)
