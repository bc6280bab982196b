"""The scheduler and late-run services: cost, time zones, and running several at once.

The concurrency tests use real transactions and one connection per thread. On SQLite,
IMMEDIATE transactions make them run one after another. On PostgreSQL they really
overlap (row locks, SKIP LOCKED).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from flows_app.background.scheduler import _claim, schedule_deployments
from flows_app.models import Deployment
from flows_app.services.deployments import deployment_schedule_runs
from orion_project.granian_logging import WithoutThreadsAdvice
from runs_app.background.late_runs import mark_late_runs
from runs_app.models import FlowRun
from tests.factories import DeploymentScheduleFactory, ScheduledDeploymentFactory
from tests.helpers import MANAGE, api_healthy, free_port, kill_process_group, orion_start

NEW_YORK = ZoneInfo("America/New_York")
ANCHOR = "2026-01-01T00:00:00+00:00"
on_postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")


def in_threads(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads started together; return their results."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as error:  # reported by the test thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def scheduled_deployment(**fields: Any) -> Deployment:
    return ScheduledDeploymentFactory(**fields)


def local_times(deployment: Deployment) -> list[str]:
    times = FlowRun.objects.filter(deployment=deployment).order_by("next_scheduled_start_time")
    return [
        when.astimezone(NEW_YORK).strftime("%m-%d %H:%M")
        for when in times.values_list("next_scheduled_start_time", flat=True)
        if when is not None
    ]


@pytest.mark.django_db
def test_a_pass_over_fully_scheduled_deployments_costs_two_queries(django_assert_num_queries: Any) -> None:
    for _ in range(5):
        deployment = ScheduledDeploymentFactory()
        DeploymentScheduleFactory(deployment=deployment, schedule={"interval": 60, "anchor_date": ANCHOR})
    assert schedule_deployments() > 5 * 60  # hourly: 3 runs; every minute: up to now + 1 h
    # 1. the batch of schedulable deployments (ids)
    # 2. their upcoming auto-scheduled runs, counted per deployment: none needs more
    with django_assert_num_queries(2):
        assert schedule_deployments() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cron", "now", "expected"),
    [
        # Spring forward (03-08): 09:00 stays 09:00 local, so it moves from 14:00 to 13:00 UTC.
        ("0 9 * * *", "2026-03-06T18:00:00+00:00", ["03-07 09:00", "03-08 09:00", "03-09 09:00", "03-10 09:00"]),
        # Fall back (11-01): 01:30 happens twice that night; it runs once.
        ("30 1 * * *", "2026-10-30T18:00:00+00:00", ["10-31 01:30", "11-01 01:30", "11-02 01:30", "11-03 01:30"]),
    ],
)
def test_cron_schedules_keep_local_time_across_dst(
    settings: Any, cron: str, now: str, expected: list[str], django_assert_max_num_queries: Any
) -> None:
    settings.ORION_SCHEDULER_MIN_RUNS = 4
    settings.ORION_SCHEDULER_MIN_SCHEDULED_SECONDS = 0
    deployment = scheduled_deployment(schedule={"cron": cron, "timezone": "America/New_York", "day_or": True})
    assert schedule_deployments(now=dt.datetime.fromisoformat(now)) == 4
    assert local_times(deployment) == expected
    run = FlowRun.objects.filter(deployment=deployment).select_related("state").first()
    assert run is not None and run.state is not None and run.next_scheduled_start_time is not None
    assert (run.state_type, run.state_name, run.state.message) == ("SCHEDULED", "Scheduled", "Flow run scheduled")
    assert (run.auto_scheduled, run.tags[0], run.work_queue_id) == (True, "auto-scheduled", deployment.work_queue_id)
    assert run.idempotency_key == f"scheduled {deployment.id} {run.next_scheduled_start_time.isoformat()}"


@pytest.mark.django_db
def test_only_active_unpaused_schedules_are_used() -> None:
    inactive = ScheduledDeploymentFactory(is_schedule_active=False)
    paused = ScheduledDeploymentFactory(paused=True)
    switched_off = ScheduledDeploymentFactory()
    switched_off.schedules.update(active=False)
    assert schedule_deployments() == 0
    assert not FlowRun.objects.filter(deployment__in=[inactive, paused, switched_off]).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_schedulers_and_the_schedule_route_never_duplicate_a_run() -> None:
    deployments = [ScheduledDeploymentFactory() for _ in range(8)]
    for deployment in deployments:
        DeploymentScheduleFactory(deployment=deployment, schedule={"interval": 900, "anchor_date": ANCHOR})
    client = Client(HTTP_X_PREFECT_API_VERSION="0.8.4")

    def schedule_route() -> int:
        for deployment in deployments:
            client.post(f"/api/deployments/{deployment.id}/schedule", data="{}", content_type="application/json")
        return 0

    results = in_threads(
        lambda: schedule_deployments(batch_size=3),
        lambda: schedule_deployments(batch_size=3),
        lambda: schedule_deployments(batch_size=2),
        schedule_route,
    )
    keys = list(FlowRun.objects.values_list("idempotency_key", flat=True))
    assert len(keys) == len(set(keys))  # each run created exactly once
    per_deployment = {d.id: FlowRun.objects.filter(deployment=d).count() for d in deployments}
    assert len(set(per_deployment.values())) == 1 and min(per_deployment.values()) >= 6  # all fully scheduled
    assert sum(results) <= len(keys)  # the schedulers counted only the runs they made
    assert schedule_deployments() == 0  # nothing left to do
    connection.close()


@on_postgres_only
@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_claimed_deployment_still_accepts_runs_from_the_api() -> None:
    """The scheduler's claim (FOR NO KEY UPDATE) does not block create_flow_run, whose new
    run takes a KEY SHARE lock on the deployment; FOR UPDATE would, for a whole batch."""
    deployment = ScheduledDeploymentFactory()
    claimed = threading.Event()
    released = threading.Event()
    timings: dict[str, float] = {}

    def scheduler_holding_its_claim() -> int:
        with transaction.atomic():
            assert [d.id for d in _claim([deployment.id])] == [deployment.id]
            claimed.set()
            released.wait(timeout=10)
        return 0

    def api_request() -> int:
        claimed.wait(timeout=10)
        started = time.monotonic()
        response = Client(HTTP_X_PREFECT_API_VERSION="0.8.4").post(
            f"/api/deployments/{deployment.id}/create_flow_run", data="{}", content_type="application/json"
        )
        timings["api"] = time.monotonic() - started
        released.set()
        return response.status_code  # type: ignore[no-any-return]

    assert in_threads(scheduler_holding_its_claim, api_request) == [0, 201]
    assert timings["api"] < 5
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_late_marking_never_overrides_runs_an_agent_is_starting() -> None:
    """Agents move overdue runs to PENDING while the late-run service marks them: whatever
    the interleaving, every run ends PENDING (SCHEDULED "Late" → PENDING is allowed; a
    forced "Late" over PENDING would be a lost start)."""
    now = dt.datetime.now(dt.UTC)
    deployment = scheduled_deployment(schedule={"interval": 900, "anchor_date": ANCHOR})
    runs = deployment_schedule_runs(
        workspace_id=deployment.workspace_id, deployment=deployment, start_time=now - dt.timedelta(hours=6), end_time=now - dt.timedelta(minutes=1),
        min_runs=100, max_runs=100,
    )  # fmt: skip
    run_ids = [str(run.pk) for run in runs]
    assert len(run_ids) >= 23
    client = Client(HTTP_X_PREFECT_API_VERSION="0.8.4")

    def agent() -> list[str]:
        verdicts = []
        for run_id in run_ids:
            response = client.post(
                f"/api/flow_runs/{run_id}/set_state",
                data=json.dumps({"state": {"type": "PENDING"}}),
                content_type="application/json",
            )
            verdicts.append(response.json()["status"])
        return verdicts

    def late_marker() -> int:
        return sum(mark_late_runs(batch_size=3) for _ in range(5))

    verdicts, _ = in_threads(agent, late_marker)
    assert set(verdicts) == {"ACCEPT"}
    assert set(FlowRun.objects.filter(pk__in=run_ids).values_list("state_type", flat=True)) == {"PENDING"}
    connection.close()


# -------------------------------------------------------------------------- commands


def _child_processes(pid: int) -> dict[int, str]:
    """A process's children and their command lines (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            child_ids = [int(child) for child in fh.read().split()]
    except OSError:
        return {}
    found = {}
    for child in child_ids:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as fh:
                found[child] = fh.read().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


def _children(pid: int) -> list[str]:
    return list(_child_processes(pid).values())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _command_env(tmp_path: Path) -> dict[str, str]:
    """A scratch SQLite data directory, so the command never touches a real database."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["ORION_DATA_DIR"] = str(tmp_path)
    return env


@pytest.mark.slow
def test_orion_services_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    # The scratch database has no tables: each pass fails, is logged, and the loop goes on.
    # The log goes to a file: a pipe nobody reads fills up with the failures' tracebacks
    # and blocks the loop in a write, so it could not stop.
    log = tmp_path / "services.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([*MANAGE, "orion_services"], env=_command_env(tmp_path), stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 30
        while b"\n" not in log.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.1)
        first_line = log.read_bytes().decode().splitlines()[0]
        assert "Running services: scheduler, statuses, late_runs" in first_line
        assert time.monotonic() < deadline
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.slow
def test_orion_start_serves_the_api_beside_the_services_and_stops_them(tmp_path: Path) -> None:
    port = free_port()
    process = orion_start(_command_env(tmp_path), "--port", str(port), "--workers", "1", "--threads", "2")
    try:
        assert api_healthy(port)
        children = _child_processes(process.pid)
        assert any("granian" in line for line in children.values()), children
        assert any("orion_services" in line for line in children.values()), children
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not [pid for pid in children if _alive(pid)]  # both stopped and reaped
    except BaseException:
        kill_process_group(process)
        raise


@pytest.mark.slow
def test_orion_start_without_services_serves_only_the_api(tmp_path: Path) -> None:
    port = free_port()
    process = orion_start(
        _command_env(tmp_path), "--no-services", "--port", str(port), "--workers", "1", "--threads", "1"
    )
    try:
        deadline = time.monotonic() + 30
        children: list[str] = []
        while time.monotonic() < deadline and not any("granian" in line for line in children):
            time.sleep(0.3)
            children = _children(process.pid)
        assert [line for line in children if "orion_services" in line] == []
        assert any("granian" in line for line in children)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    except BaseException:
        kill_process_group(process)
        raise


@pytest.mark.slow
def test_orion_start_does_not_print_granians_advice_on_threads(tmp_path: Path) -> None:
    """granian warns when a worker's threads exceed twice the cores plus one; the thread
    count is chosen by measurement (docs/performance.md), so the warning is left out."""
    port = free_port()
    threads = str(2 * (os.cpu_count() or 1) + 2)
    process = orion_start(_command_env(tmp_path), "--no-services", "--port", str(port), "--workers", "1",
                          "--threads", threads, errors=True, output=True, cwd=tmp_path)  # fmt: skip
    try:
        assert api_healthy(port)  # started from tmp_path: the log filter and the app still load
        process.send_signal(signal.SIGTERM)
        output, errors = process.communicate(timeout=30)
    except BaseException:
        kill_process_group(process)
        raise
    assert process.returncode == 0
    assert b"Orion on Django at" in output
    assert b"quite high" not in output + errors


def test_granians_other_messages_pass_the_log_filter() -> None:
    advice = logging.makeLogRecord({"msg": "Configuration allows spawning up to 9 Python threads, which "
                                    "seems quite high compared to the number of CPU cores available. "})  # fmt: skip
    other = logging.makeLogRecord({"msg": "Unexpected exit from worker-1"})
    assert (WithoutThreadsAdvice().filter(advice), WithoutThreadsAdvice().filter(other)) == (False, True)


@pytest.mark.slow
def test_orion_start_refuses_a_port_another_server_listens_on(tmp_path: Path) -> None:
    """granian binds with SO_REUSEPORT, which would let two servers share one port."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = orion_start(
            _command_env(tmp_path), "--port", str(port), "--workers", "1", "--threads", "1", errors=True
        )
        try:
            _, errors = process.communicate(timeout=60)
        except BaseException:
            kill_process_group(process)
            raise
    assert process.returncode == 1
    assert f"127.0.0.1:{port} is in use".encode() in errors


@pytest.mark.slow
def test_orion_start_stops_the_services_when_the_api_server_dies(tmp_path: Path) -> None:
    port = free_port()
    process = orion_start(_command_env(tmp_path), "--port", str(port), "--workers", "1", "--threads", "1", errors=True)
    try:
        assert api_healthy(port)  # so the worker has loaded the application
        children = _child_processes(process.pid)
        api = [pid for pid, line in children.items() if "granian" in line]
        assert len(api) == 1, children
        workers = _child_processes(api[0])
        assert workers, "granian started no worker"
        os.kill(api[0], signal.SIGKILL)
        _, errors = process.communicate(timeout=60)
    except BaseException:
        kill_process_group(process)
        raise
    assert process.returncode != 0
    assert b"granian exited" in errors
    assert not [pid for pid in children if _alive(pid)]
    # The workers of the killed main process stop too, freeing the port for a restart.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and [pid for pid in workers if _alive(pid)]:
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)]
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the health check's TIME_WAIT
        probe.bind(("127.0.0.1", port))
