"""Helpers for the compatibility scenarios: stock ``prefect`` imports only, both lines.

A scenario module defines ``main()`` returning a short detail string (or a coroutine
returning one) and ends with ``run(main)``; the last line printed is
``RESULT PASS <detail>`` or ``RESULT FAIL <reason>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import traceback
from typing import Any

import prefect
from prefect import get_client

try:  # prefect >= 2.8
    from prefect.client.schemas import filters, sorting
    from prefect.client.schemas.objects import StateType
except ImportError:  # prefect 2.7 ("Orion")
    from prefect.orion.schemas import filters, sorting  # type: ignore[no-redef]
    from prefect.orion.schemas.states import StateType  # type: ignore[no-redef]

# The schema modules of whichever client line is installed, for the scenarios to use.
__all__ = ["StateType", "filters", "sorting"]

VERSION = prefect.__version__
IS_27 = tuple(int(part) for part in VERSION.split(".")[:2]) < (2, 8)
RUN_ID = os.environ.get("COMPAT_RUN_ID", "local")
# The client's own command-line entry point (2.7 cannot run as ``python -m prefect``).
PREFECT_BIN = os.path.join(os.path.dirname(sys.executable), "prefect")


class ScenarioFailure(AssertionError):
    """A check that did not hold."""


def check(condition: Any, message: str) -> None:
    if not condition:
        raise ScenarioFailure(message)


def state_type(state: Any) -> str | None:
    if state is None:
        return None
    return getattr(state.type, "value", str(state.type))


def client() -> Any:
    return get_client()


# Under a workspace with least-privilege keys (run.py --workspace) the flow processes,
# agents and workers hold a ``runner`` key; the steps a deployment's author takes hold this
# ``developer`` key. Unset otherwise: then everything runs with the one key (or none).
DEVELOPER_KEY = os.environ.get("COMPAT_DEVELOPER_KEY")


@contextlib.contextmanager
def as_developer() -> Any:
    """Send the requests made inside with the developer key: creating deployments, work
    pools, queues, limits and variables, and deleting what the scenario made."""
    if not DEVELOPER_KEY:
        yield
        return
    from prefect.settings import PREFECT_API_KEY, temporary_settings

    with temporary_settings(updates={PREFECT_API_KEY: DEVELOPER_KEY}):
        yield


async def flow_run(flow_run_id: Any) -> Any:
    async with get_client() as api:
        return await api.read_flow_run(flow_run_id)


async def task_runs_of(flow_run_id: Any) -> list[Any]:
    async with get_client() as api:
        return await api.read_task_runs(
            flow_run_filter=filters.FlowRunFilter(id=filters.FlowRunFilterId(any_=[flow_run_id]))
        )


async def wait_for(fetch: Any, timeout: float = 60.0, interval: float = 0.5) -> Any:
    """Await ``fetch()`` until it returns something truthy, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = await fetch()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)


def prefect_cli(*args: str, timeout: float = 120) -> str:
    """Run the stock ``prefect`` CLI of this interpreter; return its output.

    The bound is generous: most of a call is the CLI importing itself, which takes many
    seconds on a machine busy with the other scenarios."""
    command = [PREFECT_BIN, *args]
    wide = {**os.environ, "COLUMNS": "300"}  # rich truncates tables to the terminal width
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=wide)
    check(done.returncode == 0, f"prefect {' '.join(args)} exited {done.returncode}: {done.stderr[-800:]}")
    return done.stdout


def start_background(*args: str) -> subprocess.Popen[bytes]:
    """Start an agent or worker (``prefect agent start ...``) in its own process group."""
    return subprocess.Popen(
        [PREFECT_BIN, *args],
        stdout=sys.stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_background(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Let the agent's or worker's flow-run children finish, then stop its process group."""
    import signal

    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{process.pid}/task/{process.pid}/children") as handle:
                if not handle.read().split():
                    break
        except OSError:
            break
        time.sleep(0.2)
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def run(main: Any) -> None:
    started = time.monotonic()
    try:
        detail = main()
        if asyncio.iscoroutine(detail):
            detail = asyncio.run(detail)
    except BaseException as error:  # report everything, including timeouts
        traceback.print_exc()
        message = f"{type(error).__name__}: {error}".replace("\n", " | ")[:600]
        print(f"RESULT FAIL {message}", flush=True)
        os._exit(1)
    sys.stdout.flush()
    print(f"RESULT PASS {detail or ''} ({time.monotonic() - started:.1f}s, prefect {VERSION})", flush=True)
    os._exit(0)
