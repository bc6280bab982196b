"""Logs from a flow and its tasks, read back through /logs/filter by flow run and level."""

import asyncio

from _support import RUN_ID, check, client, filters, run, wait_for
from prefect import flow, get_run_logger, task


@task
def noisy():
    get_run_logger().warning(f"task-warning-{RUN_ID}")


@flow(name=f"compat-c08-{RUN_ID}")
def logging_flow():
    get_run_logger().info(f"flow-info-{RUN_ID}")
    noisy()


async def logs_of(run_id, level=None):
    log_filter = filters.LogFilter(flow_run_id=filters.LogFilterFlowRunId(any_=[run_id]))
    if level is not None:
        log_filter.level = filters.LogFilterLevel(ge_=level)
    async with client() as api:
        return await api.read_logs(log_filter=log_filter)


def main():
    state = logging_flow(return_state=True)
    run_id = state.state_details.flow_run_id

    async def found():
        messages = [log.message for log in await logs_of(run_id)]
        return messages if any(f"task-warning-{RUN_ID}" in m for m in messages) else None

    messages = asyncio.run(wait_for(found, timeout=30))
    check(messages, "task log never arrived")
    check(any(f"flow-info-{RUN_ID}" in m for m in messages), "flow log missing")
    warnings = asyncio.run(logs_of(run_id, level=30))
    check(warnings and all(log.level >= 30 for log in warnings), "level filter wrong")
    check(any(log.task_run_id for log in warnings), "task log without task_run_id")
    return f"logs={len(messages)} warnings={len(warnings)}"


if __name__ == "__main__":
    run(main)
