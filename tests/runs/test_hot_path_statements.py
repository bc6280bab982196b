"""SQL statements per request on the hot path (issue #12), and that the lean responses
(rendered without a read-back) are what a read returns.

Counts include the transaction statements pytest-django's test transaction turns into
savepoints: ``atomic()`` inside the test is ``SAVEPOINT`` ... ``RELEASE SAVEPOINT``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from tests.helpers import ApiClient, flow_run_write_statements, write_statements

pytestmark = pytest.mark.django_db

# The event of a flow run's new state: the INSERT of the event, the one of the resources
# it names and the upsert of its hourly count; on PostgreSQL all three are WITH items of
# the statement writing the state and the run, so they add no statement
# (events_app.services.record).
EVENT_INSERTS = 0 if connection.vendor == "postgresql" else 3

# Computed from the clock at each answer, so they differ between two answers.
CLOCK_FIELDS = ("estimated_run_time", "estimated_start_time_delta")


def stable(run: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in run.items() if key not in CLOCK_FIELDS}


@pytest.fixture
def flow_id(api: ApiClient) -> str:
    return str(api.post("/flows/", {"name": "hot"}).json()["id"])


@pytest.fixture
def running_flow_run(api: ApiClient, flow_id: str) -> str:
    return str(api.post("/flow_runs/", {"flow_id": flow_id, "state": {"type": "RUNNING"}}).json()["id"])


def test_flow_run_create_is_one_round_of_inserts(api: ApiClient, flow_id: str, django_assert_num_queries: Any) -> None:
    # SELECT the flow exists; SAVEPOINT; INSERT the state and the run (its state columns
    # already set), the state event's INSERTs (what it names is the flow read first) and
    # INSERT ... ON CONFLICT the history rollup (the run's hour, flow and all-flows rows);
    # RELEASE SAVEPOINT; INSERT the audit event. No UPDATE, no read-back.
    with django_assert_num_queries(4 + flow_run_write_statements() + EVENT_INSERTS):
        created = api.post("/flow_runs/", {"flow_id": flow_id, "tags": ["a"], "parameters": {"x": 1}})
    assert created.status_code == 201
    assert stable(created.json()) == stable(api.get(f"/flow_runs/{created.json()['id']}").json())


def test_flow_run_set_state_statements(api: ApiClient, flow_id: str, django_assert_num_queries: Any) -> None:
    run_id = api.post("/flow_runs/", {"flow_id": flow_id}).json()["id"]
    # SAVEPOINT; SELECT ... FOR UPDATE the run; SELECT its current state (out of PENDING
    # a rule reads its details); INSERT the new state and UPDATE the run's state columns,
    # the event's INSERTs (what it names was read at the run's first state) and INSERT ...
    # ON CONFLICT the history rollup (out of PENDING's rows, into RUNNING's); RELEASE
    # SAVEPOINT; INSERT the audit event.
    with django_assert_num_queries(5 + flow_run_write_statements() + EVENT_INSERTS):
        answer = api.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": "RUNNING"}})
    assert answer.status_code == 201
    assert answer.json()["state"] == api.get(f"/flow_runs/{run_id}").json()["state"]


def test_flow_run_completion_statements(api: ApiClient, running_flow_run: str, django_assert_num_queries: Any) -> None:
    # SAVEPOINT; SELECT ... FOR UPDATE the run (out of RUNNING its columns give the state:
    # no SELECT of the state, and the message the event quotes of it is read by the
    # event's INSERT on PostgreSQL, by a SELECT of it on SQLite); SELECT the run's task
    # runs still RUNNING (a final state frees the concurrency slots they hold); INSERT the
    # new state and UPDATE the run, the event's INSERTs and INSERT ... ON CONFLICT the
    # history rollup; RELEASE SAVEPOINT; INSERT the audit event.
    quoted_message = 0 if connection.vendor == "postgresql" else 1
    with django_assert_num_queries(5 + flow_run_write_statements() + EVENT_INSERTS + quoted_message):
        answer = api.post(f"/flow_runs/{running_flow_run}/set_state", {"state": {"type": "COMPLETED"}})
    assert answer.status_code == 201
    assert answer.json()["state"] == api.get(f"/flow_runs/{running_flow_run}").json()["state"]


def test_task_run_create_is_one_round_of_inserts(
    api: ApiClient, running_flow_run: str, django_assert_num_queries: Any
) -> None:
    body = {"flow_run_id": running_flow_run, "task_key": "t", "dynamic_key": "0", "tags": ["x"]}
    # SELECT the flow run exists; SAVEPOINT; INSERT the state and the task run; RELEASE
    # SAVEPOINT; INSERT the audit event. No look-up before the insert, no UPDATE, no
    # read-back.
    with django_assert_num_queries(4 + write_statements()):
        created = api.post("/task_runs/", body)
    assert created.status_code == 201
    assert stable(created.json()) == stable(api.get(f"/task_runs/{created.json()['id']}").json())


def test_existing_task_run_is_found_by_the_unique_constraint(api: ApiClient, running_flow_run: str) -> None:
    body = {"flow_run_id": running_flow_run, "task_key": "t", "dynamic_key": "0"}
    first = api.post("/task_runs/", body)
    again = api.post("/task_runs/", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert stable(again.json()) == stable(api.get(f"/task_runs/{first.json()['id']}").json())


def test_task_run_transition_statements(api: ApiClient, running_flow_run: str, django_assert_num_queries: Any) -> None:
    body = {"flow_run_id": running_flow_run, "task_key": "t", "dynamic_key": "0"}
    task_id = api.post("/task_runs/", body).json()["id"]
    # → RUNNING: SAVEPOINT; SELECT ... FOR UPDATE the task run; SELECT its state (out of
    # PENDING a rule reads its details); SELECT the flow run's state and run count (its
    # rules need them); INSERT state and UPDATE the task run; RELEASE SAVEPOINT; INSERT
    # the audit event. No tags, so no concurrency-limit statement.
    with django_assert_num_queries(6 + write_statements()):
        running = api.post(f"/task_runs/{task_id}/set_state", {"state": {"type": "RUNNING"}})
    assert running.json()["status"] == "ACCEPT"
    # → COMPLETED: as above without the flow run, which no rule of this transition reads,
    # and without the state, whose type, name and timestamp the locked run's columns give.
    with django_assert_num_queries(4 + write_statements()):
        completed = api.post(f"/task_runs/{task_id}/set_state", {"state": {"type": "COMPLETED"}})
    assert completed.json()["status"] == "ACCEPT"
    assert api.get(f"/task_runs/{task_id}").json()["state_type"] == "COMPLETED"


def test_read_one_flow_run_is_one_query(api: ApiClient, running_flow_run: str, django_assert_num_queries: Any) -> None:
    # One SELECT of the run joined with its state and work queue/pool.
    with django_assert_num_queries(1):
        answer = api.get(f"/flow_runs/{running_flow_run}")
    assert answer.json()["state"]["type"] == "RUNNING"


def test_count_is_one_query(api: ApiClient, running_flow_run: str, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):  # one SELECT: the rollup's sum + the runs outside it
        answer = api.post("/flow_runs/count", {"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}})
    assert answer.json() == 1


def test_bulk_logs_are_one_insert(api: ApiClient, running_flow_run: str, django_assert_num_queries: Any) -> None:
    logs = [
        {
            "name": "n",
            "level": 20,
            "message": f"m{i}",
            "timestamp": "2024-01-01T00:00:00Z",
            "flow_run_id": running_flow_run,
        }
        for i in range(50)
    ]
    # One INSERT of the 50 rows (one statement: no transaction around it); INSERT the
    # audit event.
    with django_assert_num_queries(2):
        assert api.post("/logs/", logs).status_code == 201


def test_api_responses_skip_the_browser_middleware(api: ApiClient, client: Any) -> None:
    """Sessions, CSRF and frame options stay on the admin, off the API."""
    answer = api.get("/health")
    assert "X-Frame-Options" not in answer.headers
    assert "Set-Cookie" not in answer.headers
    login = client.get("/admin/login/")
    assert login.headers["X-Frame-Options"] == "DENY"
    assert "csrftoken" in login.cookies


def test_a_refusal_out_of_running_answers_the_whole_current_state(
    api: ApiClient, running_flow_run: str, django_assert_num_queries: Any
) -> None:
    """Out of RUNNING the engine reads no state row before the rules (the run's columns
    give its type, name and timestamp); a refusal answers the current state whole, read
    once, exactly as a read of the run shows it."""
    body = {"flow_run_id": running_flow_run, "task_key": "t", "dynamic_key": "0"}
    task_id = api.post("/task_runs/", body).json()["id"]
    running = {"type": "RUNNING", "message": "started", "data": {"x": 1}}
    assert api.post(f"/task_runs/{task_id}/set_state", {"state": running}).json()["status"] == "ACCEPT"
    # SAVEPOINT; SELECT ... FOR UPDATE the task run; SELECT the flow run (→ RUNNING's
    # rules); SELECT the current state for the answer; RELEASE SAVEPOINT; INSERT the audit event.
    with django_assert_num_queries(6):
        again = api.post(f"/task_runs/{task_id}/set_state", {"state": {"type": "RUNNING"}})
    assert (again.status_code, again.json()["status"]) == (200, "ABORT")
    assert again.json()["state"] == api.get(f"/task_runs/{task_id}").json()["state"]
    assert again.json()["state"]["message"] == "started"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's conversion of statements")
def test_state_writes_are_within_the_statements_psycopg_keeps(api: ApiClient, flow_id: str) -> None:
    """psycopg converts a statement's placeholders once only for statements within its
    bounds (orion_project.db.cache_write_statements); a state write with its event and
    rollup upsert must stay within them, or it is converted again at every transition."""
    from psycopg import _queries

    statements: list[tuple[str, int]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql, len(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        body = {"flow_id": flow_id, "tags": ["a", "b", "c"], "state": {"type": "SCHEDULED"}}
        run_id = api.post("/flow_runs/", body).json()["id"]
        for state_type in ("PENDING", "RUNNING", "COMPLETED"):
            assert api.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": state_type}}).status_code == 201
    writes = [(sql, count) for sql, count in statements if sql.startswith("WITH")]
    assert len(writes) == 4
    for sql, count in writes:
        assert "history AS (INSERT INTO" in sql
        assert len(sql.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
        assert count <= _queries.MAX_CACHED_STATEMENT_PARAMS
