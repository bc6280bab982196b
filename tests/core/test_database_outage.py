"""A database outage is answered 503 with ``Retry-After``, which the stock clients retry
(issue #19 item 5); every other database error keeps its own answer.

The in-process tests make every query of a request fail the way each driver fails (a
``connection.execute_wrapper``, Django's hook around each statement); the tests at the end
stop a real database under ``orion_start``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool
import pytest
from django.db import OperationalError, ProgrammingError, connection
from django.test import Client

from access_app.selectors import clear_key_cache
from orion_project.registry import Service
from orion_project.service_loop import run_once
from tests.helpers import ApiClient, free_port
from tests.stress.harness import ROOT, Server

PG_SCRIPT = str(ROOT / "scripts" / "pg_throwaway.sh")

RETRY_AFTER = "5"


def wrapped(driver_error: Exception, django_error: type[Exception] = OperationalError) -> Exception:
    """``driver_error`` as Django raises it: its own class, the driver's as the cause."""
    error = django_error(str(driver_error))
    error.__cause__ = driver_error
    return error


UNAVAILABLE = {
    "sqlite locked": wrapped(sqlite3.OperationalError("database is locked")),
    "pool timeout": wrapped(psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec")),
    "refused": wrapped(psycopg.OperationalError("connection failed: Connection refused")),
    "server closed": wrapped(psycopg.OperationalError("server closed the connection unexpectedly")),
    "admin shutdown": wrapped(psycopg.errors.AdminShutdown("terminating connection due to administrator command")),
    "starting up": wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")),
    "too many connections": wrapped(psycopg.errors.TooManyConnections("too many clients already")),
}
NOT_UNAVAILABLE = {
    "sqlite bad sql": wrapped(sqlite3.OperationalError("no such column: nope")),
    "statement timeout": wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
    "deadlock": wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
    "undefined table": wrapped(psycopg.errors.UndefinedTable("relation does not exist"), ProgrammingError),
}


@contextmanager
def every_query_raises(error: Exception) -> Iterator[None]:
    def fail(*args: Any) -> Any:
        raise error

    with connection.execute_wrapper(fail):
        yield


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == RETRY_AFTER
    assert response.json() == {"detail": f"The database is unavailable; retry after {RETRY_AFTER} seconds."}


@pytest.mark.parametrize("error", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
def test_a_database_outage_in_a_view_is_a_503_with_retry_after(api: ApiClient, error: Exception) -> None:
    with every_query_raises(error):
        response = api.client.post("/api/flows/", {"name": "etl"}, content_type="application/json")
    assert_unavailable(response)


@pytest.mark.parametrize("error", NOT_UNAVAILABLE.values(), ids=NOT_UNAVAILABLE.keys())
def test_other_database_errors_stay_500(db: None, error: Exception) -> None:
    client = Client(raise_request_exception=False)
    with every_query_raises(error):
        response = client.post("/api/flows/filter", {}, content_type="application/json")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert response.json() == {"exception_message": "Internal Server Error"}


def test_an_outage_during_the_key_lookup_outside_any_view_is_a_503(db: None, settings: Any) -> None:
    settings.ORION_AUTH = "api-key"
    clear_key_cache()
    client = Client(raise_request_exception=False)
    with every_query_raises(UNAVAILABLE["pool timeout"]):
        response = client.get("/api/flows/00000000-0000-0000-0000-000000000000", HTTP_AUTHORIZATION="Bearer abc")
    assert_unavailable(response)


def test_an_outage_outside_the_api_is_a_503_too(db: None) -> None:
    client = Client(raise_request_exception=False)
    with every_query_raises(UNAVAILABLE["server closed"]):
        response = client.post("/admin/login/", {"username": "a", "password": "b"})
    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER


def test_ready_reports_an_outage_with_retry_after(api: ApiClient) -> None:
    assert api.client.get("/api/ready").json() == {"message": "OK"}
    with every_query_raises(UNAVAILABLE["refused"]):
        response = api.client.get("/api/ready")
    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    assert response.json() == {"message": "Database is not available"}


def test_the_retry_after_is_the_setting(api: ApiClient, settings: Any) -> None:
    settings.ORION_DB_RETRY_AFTER_SECONDS = 2
    with every_query_raises(UNAVAILABLE["admin shutdown"]):
        response = api.client.get("/api/flows/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 503
    assert response["Retry-After"] == "2"


def failing_service(error: Exception) -> Service:
    def run() -> int:
        raise error

    return Service(name="outage-probe", run=run, interval_seconds=1)


@pytest.mark.django_db(transaction=True)  # run_once closes connections, as the loop does
def test_the_services_loop_logs_one_line_per_pass_through_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="orion.services")
    with every_query_raises(UNAVAILABLE["pool timeout"]):
        assert run_once(failing_service(UNAVAILABLE["pool timeout"])) == 0
    records = [record for record in caplog.records if record.name == "orion.services"]
    assert records and all(record.exc_info is None for record in records), records
    assert "skipped: the database is unavailable" in records[0].getMessage()
    # A real bug still logs its traceback.
    caplog.clear()
    assert run_once(failing_service(NOT_UNAVAILABLE["deadlock"])) == 0
    assert any(record.exc_info for record in caplog.records if record.name == "orion.services")


# ------------------------------------------------------------- a real outage under orion_start

POOL_TIMEOUT = 2
LIVE_RETRY_AFTER = "1"
# The answer comes within the pool timeout, plus what a loaded test machine adds.
BOUND_SECONDS = POOL_TIMEOUT + 3


def live(base_url: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any, float]:
    """One request: (status, headers, parsed body, seconds it took)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base_url}/api{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, headers, raw = response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
    return status, headers, json.loads(raw) if raw else None, time.monotonic() - started


def assert_live_unavailable(base_url: str, method: str, path: str, body: Any = None) -> None:
    status, headers, payload, seconds = live(base_url, method, path, body)
    assert status == 503, (method, path, status, payload)
    assert headers.get("retry-after") == LIVE_RETRY_AFTER
    assert seconds < BOUND_SECONDS, (method, path, seconds)


def wait_until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


class PrivateCluster:
    """A throwaway PostgreSQL cluster of this test's own that it can stop and start again
    with its data (``scripts/pg_throwaway.sh`` with ``PG_KEEP_DIR``)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="orion-outage-pg-"))
        self.dir.chmod(0o755)  # the cluster may run as an unprivileged user
        self.env = {
            **os.environ,
            "PG_PORT": str(free_port()),
            "PG_KEEP_DIR": str(self.dir / "cluster"),
            "PG_THROWAWAY_STATE": str(self.dir / "state.env"),
        }

    def start(self) -> str:
        out = subprocess.run([PG_SCRIPT, "start"], env=self.env, capture_output=True, text=True, check=True).stdout
        return out.strip().removeprefix("DATABASE_URL=")

    def stop(self) -> None:
        subprocess.run([PG_SCRIPT, "stop"], env=self.env, capture_output=True, check=True)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _reads_flow(base: str, flow_id: str, name: str) -> bool:
    status, _, read, _ = live(base, "GET", f"/flows/{flow_id}")
    return status == 200 and read.get("name") == name


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="stops a PostgreSQL cluster of its own")
def test_postgresql_stopped_under_orion_start_is_503_then_recovers() -> None:
    cluster = PrivateCluster()
    server: Server | None = None
    try:
        url = cluster.start()
        server = Server(
            port=free_port(),
            database_url=url,
            extra_env={
                "ORION_DB_POOL_TIMEOUT_SECONDS": str(POOL_TIMEOUT),
                "ORION_DB_RETRY_AFTER_SECONDS": LIVE_RETRY_AFTER,
                "ORION_LATE_RUNS_INTERVAL_SECONDS": "1",
            },
        )
        server.manage("migrate", "--noinput", "-v", "0")
        server.start()
        base = server.base_url
        status, _, flow, _ = live(base, "POST", "/flows/", {"name": "before-the-outage"})
        assert status == 201, flow

        cluster.stop()
        # Pooled connections the stop broke, then no connection at all within the timeout.
        assert_live_unavailable(base, "GET", "/ready")
        assert_live_unavailable(base, "POST", "/flows/", {"name": "during-the-outage"})
        assert_live_unavailable(base, "GET", f"/flows/{flow['id']}")
        assert_live_unavailable(base, "POST", "/flow_runs/filter", {})
        assert_live_unavailable(base, "GET", "/ready")
        assert live(base, "GET", "/health")[0] == 200  # liveness does not need the database

        cluster.start()
        assert wait_until(lambda: live(base, "GET", "/ready")[0] == 200, 30)
        # Every pooled connection answers again (some may fail once more, with a 503).
        # Each server thread holds its own connection, so a request on a thread that has not
        # reconnected yet may still get that one 503: wait for the read as for the write.
        assert wait_until(lambda: live(base, "POST", "/flows/", {"name": "after-the-outage"})[0] in (200, 201), 15)
        # The read is checked inside the wait: a second read may land on yet another
        # thread that has not reconnected.
        assert wait_until(lambda: _reads_flow(base, flow["id"], "before-the-outage"), 15)
        assert server.processes["server"].poll() is None  # services and API both still up
        assert "skipped: the database is unavailable" in server.log_text()
    finally:
        if server is not None:
            server.stop()
        cluster.remove()


@pytest.mark.slow
def test_sqlite_locked_past_its_busy_timeout_under_orion_start_is_503() -> None:
    server = Server(
        port=free_port(),
        extra_env={"ORION_SQLITE_BUSY_TIMEOUT_SECONDS": "1", "ORION_DB_RETRY_AFTER_SECONDS": LIVE_RETRY_AFTER},
    )
    try:
        server.manage("migrate", "--noinput", "-v", "0")
        server.start(services=False)
        base = server.base_url
        holder = sqlite3.connect(server.workdir / "data" / "orion.sqlite3", isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            assert_live_unavailable(base, "POST", "/flows/", {"name": "while-locked"})
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        status, _, created, _ = live(base, "POST", "/flows/", {"name": "after-the-lock"})
        assert status == 201, created
    finally:
        server.stop()
