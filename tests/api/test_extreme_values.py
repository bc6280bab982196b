"""Extreme values (issue #19, item 4) are a 422 that names the field, never a 500 or a 409,
and nothing is written: datetimes whose UTC time leaves the calendar, epoch numbers past
it, durations past ``timedelta``, LIKE patterns past SQLite's limit, and paging values
past the integer range. The suite runs on SQLite and PostgreSQL alike; the last test
sends a few of them to a real ``orion_start`` server."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from flows_app.api.deployment_serializers import MAX_SCHEDULE_RUNS_PER_REQUEST
from flows_app.schedules import next_dates, parse_schedule
from orion_project.clock import DATETIME_RANGE_MESSAGE, MAX_DURATION_SECONDS
from orion_project.filtering import MAX_PATTERN_LENGTH
from runs_app.models import FlowRun, Log, TaskRun
from tests.factories import DeploymentFactory, FlowFactory
from tests.helpers import ApiClient, free_port, make_flow_run, make_task_run

pytestmark = pytest.mark.django_db

# A moment in year 9999 (or year 1) whose offset moves its UTC time past the calendar.
PAST_THE_END = "9999-12-31T23:59:59-23:59"
BEFORE_THE_START = "0001-01-01T00:00:00+23:59"


def _only_error(response: Any) -> dict[str, Any]:
    """The one validation error of a 422 in the reference's shape."""
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["exception_message"] == "Invalid request received."
    assert len(body["exception_detail"]) == 1, body["exception_detail"]
    return body["exception_detail"][0]  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- datetimes

# (what, path, body with the value as ``V``, loc of the error); ``{run}`` is a flow run's id.
DATETIME_DOORS: list[tuple[str, str, Any, list[Any]]] = [
    (
        "filter",
        "/flow_runs/filter",
        {"flow_runs": {"start_time": {"after_": "V"}}},
        ["body", "flow_runs", "start_time", "after_"],
    ),
    (
        "nested filter",
        "/task_runs/count",
        {"flow_runs": {"expected_start_time": {"before_": "V"}}},
        ["body", "flow_runs", "expected_start_time", "before_"],
    ),
    (
        "state timestamp",
        "/flow_runs/",
        {"flow_id": "{flow}", "state": {"type": "PENDING", "timestamp": "V"}},
        ["body", "state", "timestamp"],
    ),
    (
        "state scheduled_time",
        "/flow_runs/",
        {"flow_id": "{flow}", "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": "V"}}},
        ["body", "state", "state_details", "scheduled_time"],
    ),
    (
        "set_state scheduled_time",
        "/flow_runs/{run}/set_state",
        {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": "V"}}, "force": True},
        ["body", "state", "state_details", "scheduled_time"],
    ),
    (
        "log timestamp",
        "/logs/",
        [{"name": "n", "level": 20, "message": "m", "timestamp": "V"}],
        ["body", 0, "timestamp"],
    ),
    (
        "history bound",
        "/flow_runs/history",
        {"history_start": "V", "history_end": "2024-01-01T00:00:00Z", "history_interval_seconds": 60},
        ["body", "history_start"],
    ),
    ("schedule start_time", "/deployments/{deployment}/schedule", {"start_time": "V"}, ["body", "start_time"]),
    ("schedule end_time", "/deployments/{deployment}/schedule", {"end_time": "V"}, ["body", "end_time"]),
    (
        "schedule anchor_date",
        "/deployments/",
        {"name": "other", "flow_id": "{flow}", "schedule": {"interval": 60, "anchor_date": "V"}},
        ["body", "schedule", "anchor_date"],
    ),
]


@pytest.fixture
def ids(api: ApiClient) -> dict[str, str]:
    """A flow, a running flow run and a scheduled deployment the doors above refer to."""
    flow = FlowFactory()
    run = make_flow_run(api, "RUNNING")
    deployment = api.post("/deployments/", {"name": "d", "flow_id": str(flow.id), "schedule": {"interval": 3600}})
    assert deployment.status_code == 201, deployment.content
    return {"flow": str(flow.id), "run": run["id"], "deployment": deployment.json()["id"]}


def _filled(template: Any, value: Any, ids: dict[str, str]) -> Any:
    """``template`` with ``"V"`` replaced by ``value`` and ``{name}`` by the ids."""
    if template == "V":
        return value
    if isinstance(template, dict):
        return {key: _filled(item, value, ids) for key, item in template.items()}
    if isinstance(template, list):
        return [_filled(item, value, ids) for item in template]
    if isinstance(template, str):
        return template.format(**ids)
    return template


def _written(ids: dict[str, str]) -> tuple[int, int, int]:
    """What a refused request must leave as it was: runs, logs, the run's states."""
    run = FlowRun.objects.get(pk=ids["run"])
    return FlowRun.objects.count(), Log.objects.count(), run.states.count()


@pytest.mark.parametrize("value", [PAST_THE_END, BEFORE_THE_START, 1e20, -1e20, 7e278])
@pytest.mark.parametrize(("what", "path", "body", "loc"), DATETIME_DOORS, ids=[door[0] for door in DATETIME_DOORS])
def test_a_datetime_past_the_calendar_is_a_422_naming_the_field(
    api: ApiClient, ids: dict[str, str], what: str, path: str, body: Any, loc: list[Any], value: Any
) -> None:
    before = _written(ids)
    response = api.post(path.format(**ids), _filled(body, value, ids))
    assert _only_error(response) == {"loc": loc, "msg": DATETIME_RANGE_MESSAGE, "type": "value_error.datetime"}
    assert _written(ids) == before


@pytest.mark.parametrize("value", [PAST_THE_END, BEFORE_THE_START])
def test_a_datetime_past_the_calendar_in_a_query_string_is_a_422(api: ApiClient, value: str) -> None:
    response = api.client.get("/api/flow_runs/", {"start_time__after": value})
    assert _only_error(response)["loc"] == ["query", "start_time__after"]


@pytest.mark.parametrize(
    ("value", "year"),
    [("9999-12-31T23:59:59+00:01", 9999), ("0001-01-01T00:00:00-00:01", 1), (253402300799, 9999), (-62135596800, 1)],
)
def test_datetimes_at_the_calendar_ends_are_answered(api: ApiClient, value: Any, year: int) -> None:
    response = api.post("/flow_runs/filter", {"flow_runs": {"start_time": {"after_": value}}})
    assert response.status_code == 200
    run = make_flow_run(api, state={"type": "SCHEDULED", "state_details": {"scheduled_time": value}})
    assert dt.datetime.fromisoformat(run["expected_start_time"]).year == year


def test_history_from_the_first_moment_of_the_calendar_is_answered(api: ApiClient) -> None:
    make_flow_run(api, "COMPLETED")
    body = {"history_start": "0001-01-01T00:00:00Z", "history_end": "9999-12-31T23:59:59Z"}
    for seconds in (3600, MAX_DURATION_SECONDS):
        response = api.post("/flow_runs/history", {**body, "history_interval_seconds": seconds})
        assert response.status_code == 200, response.content
        assert response.json()[0]["interval_start"] == "0001-01-01T00:00:00+00:00"


# ----------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            {"interval": 1e30},
            {
                "loc": ["interval"],
                "msg": f"ensure this value is less than or equal to {MAX_DURATION_SECONDS}",
                "type": "value_error.number.not_le",
                "ctx": {"limit_value": MAX_DURATION_SECONDS},
            },
        ),
        # Below a microsecond the interval is zero, as the reference's timedelta makes it.
        ({"interval": 1e-9}, {"loc": [], "msg": "The interval must be positive", "type": "value_error"}),
    ],
)
@pytest.mark.parametrize("door", ["schedule", "schedules", "patch", "schedules 2.20"])
def test_a_schedule_interval_out_of_range_is_a_422(
    api: ApiClient, ids: dict[str, str], schedule: dict[str, Any], error: dict[str, Any], door: str
) -> None:
    deployment = f"/deployments/{ids['deployment']}"
    method, path, body, loc = {
        "schedule": ("post", "/deployments/", {"name": "x", "flow_id": ids["flow"], "schedule": schedule}, []),
        "schedules": (
            "post",
            "/deployments/",
            {"name": "x", "flow_id": ids["flow"], "schedules": [{"schedule": schedule}]},
            ["schedules", 0],
        ),
        "patch": ("patch", deployment, {"schedule": schedule}, []),
        "schedules 2.20": ("post", f"{deployment}/schedules", [{"schedule": schedule}], []),
    }[door]
    before = api.get(deployment).json()
    response = api.request(method, path, body)
    assert _only_error(response) == {**error, "loc": ["body", *loc, "schedule", *error["loc"]]}
    assert api.post("/deployments/count", {}).json() == 1
    assert api.get(deployment).json() == before


@pytest.mark.parametrize("key", ["max_runs", "min_runs"])
def test_a_schedule_request_for_too_many_runs_is_a_422(api: ApiClient, ids: dict[str, str], key: str) -> None:
    runs = FlowRun.objects.count()
    response = api.post(f"/deployments/{ids['deployment']}/schedule", {key: MAX_SCHEDULE_RUNS_PER_REQUEST + 1})
    assert _only_error(response)["loc"] == ["body", key]
    assert FlowRun.objects.count() == runs


def test_an_interval_longer_than_the_calendar_still_yields_its_anchor() -> None:
    anchor = "2030-01-01T00:00:00+00:00"
    schedule = parse_schedule({"interval": MAX_DURATION_SECONDS, "anchor_date": anchor})
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert next_dates(schedule, start=start, n=3) == [dt.datetime.fromisoformat(anchor)]
    whole_days = parse_schedule({"interval": 86400 * 900_000_000, "anchor_date": anchor})
    assert next_dates(whole_days, start=start, n=3) == [dt.datetime.fromisoformat(anchor)]


@pytest.mark.parametrize(
    ("policy", "loc"),
    [
        ({"retries": 1, "retry_delay": 1e300}, ["retry_delay"]),
        ({"retries": 1, "retry_delay": [10, -(10**30)]}, ["retry_delay"]),
        ({"max_retries": 1, "retry_delay_seconds": 1e300}, ["retry_delay_seconds"]),
    ],
)
def test_a_retry_delay_past_any_duration_is_a_422(api: ApiClient, policy: dict[str, Any], loc: list[str]) -> None:
    flow_run = make_flow_run(api, "RUNNING")
    body = {"flow_run_id": flow_run["id"], "task_key": "k", "dynamic_key": "0", "empirical_policy": policy}
    assert _only_error(api.post("/task_runs/", body))["loc"] == ["body", "empirical_policy", *loc]
    assert api.post("/task_runs/count", {}).json() == 0


def test_a_stored_retry_delay_past_the_calendar_retries_at_its_end(api: ApiClient) -> None:
    # A policy written before delays were bounded: the retry waits until the end of time.
    task_run = make_task_run(api, "RUNNING", empirical_policy={"retries": 1, "retry_delay": 10})
    TaskRun.objects.filter(pk=task_run["id"]).update(empirical_policy={"retries": 1, "retry_delay": 1e300})
    response = api.post(f"/task_runs/{task_run['id']}/set_state", {"state": {"type": "FAILED"}})
    assert response.status_code == 201, response.content
    state = response.json()["state"]
    assert (state["name"], state["state_details"]["scheduled_time"]) == (
        "AwaitingRetry",
        "9999-12-31T23:59:59.999999+00:00",
    )


@pytest.mark.parametrize("age", ["99999999999999w", "9" * 5000 + "d"])
def test_a_prune_age_past_any_duration_is_refused(api: ApiClient, age: str) -> None:
    make_flow_run(api, "COMPLETED")
    response = api.post("/flow_runs/prune", {"older_than": age})
    assert response.status_code == 400
    assert "is longer than any duration" in response.json()["detail"]
    assert api.post("/flow_runs/count", {}).json() == 1


def test_a_prune_age_reaching_before_year_1_keeps_every_run(api: ApiClient) -> None:
    make_flow_run(api, "COMPLETED")
    response = api.post("/flow_runs/prune", {"older_than": "200000w"})
    assert response.status_code == 200, response.content
    assert api.post("/flow_runs/count", {}).json() == 1


def test_a_negative_worker_heartbeat_interval_is_a_422(api: ApiClient) -> None:
    assert api.post("/work_pools/", {"name": "pool"}).status_code == 201
    body = {"name": "w", "heartbeat_interval_seconds": -1}
    response = api.post("/work_pools/pool/workers/heartbeat", body)
    assert _only_error(response)["loc"] == ["body", "heartbeat_interval_seconds"]


# ------------------------------------------------------------------------ LIKE patterns

# Every door into like_ / startswith_: (path, filter body with the pattern as ``V``, loc).
PATTERN_DOORS: list[tuple[str, Any, list[Any]]] = [
    ("/flows/filter", {"flows": {"name": {"like_": "V"}}}, ["flows", "name", "like_"]),
    ("/flow_runs/filter", {"flow_runs": {"name": {"like_": "V"}}}, ["flow_runs", "name", "like_"]),
    ("/task_runs/count", {"task_runs": {"name": {"like_": "V"}}}, ["task_runs", "name", "like_"]),
    ("/deployments/filter", {"deployments": {"name": {"like_": "V"}}}, ["deployments", "name", "like_"]),
    ("/block_types/filter", {"block_types": {"name": {"like_": "V"}}}, ["block_types", "name", "like_"]),
    ("/block_documents/filter", {"block_documents": {"name": {"like_": "V"}}}, ["block_documents", "name", "like_"]),
    ("/variables/filter", {"variables": {"value": {"like_": "V"}}}, ["variables", "value", "like_"]),
    ("/artifacts/filter", {"artifacts": {"key": {"like_": "V"}}}, ["artifacts", "key", "like_"]),
    (
        "/work_queues/filter",
        {"work_queues": {"name": {"startswith_": ["V"]}}},
        ["work_queues", "name", "startswith_", 0],
    ),
]


@pytest.fixture
def one_of_each(api: ApiClient) -> None:
    """A row in every table a pattern door reads: SQLite checks a LIKE pattern's length
    only when it compares it with a row."""
    make_task_run(api, "RUNNING", name="t")
    DeploymentFactory()
    block_type = api.post("/block_types/", {"name": "bt", "slug": "bt"}).json()
    schema = api.post("/block_schemas/", {"block_type_id": block_type["id"], "fields": {}, "capabilities": []}).json()
    for path, body in [
        ("/block_documents/", {"name": "doc", "block_type_id": block_type["id"], "block_schema_id": schema["id"]}),
        ("/variables/", {"name": "v", "value": "x"}),
        ("/artifacts/", {"key": "k", "data": 1}),
        ("/work_queues/", {"name": "q"}),
    ]:
        assert api.post(path, body).status_code == 201, path


@pytest.mark.usefixtures("one_of_each")
@pytest.mark.parametrize(("path", "body", "loc"), PATTERN_DOORS, ids=[door[0] for door in PATTERN_DOORS])
def test_a_like_pattern_past_the_bound_is_a_422_and_one_at_it_is_answered(
    api: ApiClient, path: str, body: Any, loc: list[Any]
) -> None:
    # SQLite refuses patterns over 50,000 bytes; 10,000 four-byte characters stay under it.
    at_the_bound = "\U0001f600" * MAX_PATTERN_LENGTH
    response = api.post(path, _filled(body, at_the_bound, {}))
    assert response.status_code == 200, response.content
    response = api.post(path, _filled(body, "%_" * 25_001, {}))
    assert _only_error(response) == {
        "loc": ["body", *loc],
        "msg": f"ensure this value has at most {MAX_PATTERN_LENGTH} characters",
        "type": "value_error.any_str.max_length",
        "ctx": {"limit_value": MAX_PATTERN_LENGTH},
    }


def test_a_run_input_prefix_past_the_bound_is_a_422(api: ApiClient) -> None:
    run = make_flow_run(api)
    assert api.post(f"/flow_runs/{run['id']}/input", {"key": "abc", "value": "x"}).status_code == 201
    path = f"/flow_runs/{run['id']}/input/filter"
    assert api.post(path, {"prefix": "a" * MAX_PATTERN_LENGTH}).json() == []
    assert _only_error(api.post(path, {"prefix": "a" * 50_001}))["loc"] == ["body", "prefix"]


def test_an_admin_search_past_the_bound_is_answered(api: ApiClient, admin_client: Any) -> None:
    make_flow_run(api, name="a" * 20)
    response = admin_client.get("/admin/runs_app/flowrun/", {"q": "a" * 50_001})
    assert response.status_code == 200


def test_a_like_pattern_past_the_bound_in_a_query_string_is_a_422(api: ApiClient) -> None:
    response = api.client.get("/api/flows/", {"name__like": "a" * 50_001})
    assert _only_error(response)["loc"] == ["query", "name__like"]


# ----------------------------------------------------------------------------- paging


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (
            "offset=1e20",
            {"loc": ["query", "offset"], "msg": "value is not a valid integer", "type": "type_error.integer"},
        ),
        (
            "offset=100000000000000000000",
            {
                "loc": ["query", "offset"],
                "msg": "ensure this value is less than or equal to 2147483647",
                "type": "value_error.number.not_le",
                "ctx": {"limit_value": 2147483647},
            },
        ),
        (
            "limit=-100000000000000000000",
            {
                "loc": ["query", "limit"],
                "msg": "ensure this value is greater than or equal to -2147483648",
                "type": "value_error.number.not_ge",
                "ctx": {"limit_value": -2147483648},
            },
        ),
    ],
)
@pytest.mark.parametrize("resource", ["flows", "flow_runs", "task_runs", "deployments"])
def test_paging_past_the_integer_range_in_a_query_string_is_a_422(
    api: ApiClient, resource: str, query: str, error: dict[str, Any]
) -> None:
    assert _only_error(api.get(f"/{resource}/?{query}")) == error


@pytest.mark.parametrize("key", ["offset", "limit"])
def test_paging_past_the_integer_range_in_a_body_is_a_422(api: ApiClient, key: str) -> None:
    assert _only_error(api.post("/flow_runs/filter", {key: 1e20}))["loc"] == ["body", key]


def test_the_largest_offset_is_answered(api: ApiClient) -> None:
    assert api.get("/flows/?offset=2147483647").json() == []


# ----------------------------------------------------------------- through orion_start


@pytest.fixture
def server() -> Iterator[Callable[..., tuple[int, Any]]]:
    """A real ``orion_start`` (API only) on a free port, on this run's kind of database: a
    fresh SQLite file, or the PostgreSQL test database, already migrated (the requests
    sent write nothing)."""
    from tests.stress.harness import Server, request

    url = None
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        url = f"postgresql://{db['USER']}{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    instance = Server(port=free_port(), database_url=url)
    try:
        if url is None:
            instance.prepare()
        instance.start(services=False)
        yield lambda method, path, body=None: request(instance.base_url, method, path, body)
    finally:
        instance.stop()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="starts granian")
def test_extreme_values_are_a_422_through_orion_start(server: Callable[..., tuple[int, Any]]) -> None:
    cases = [
        ("POST", "/flow_runs/filter", {"flow_runs": {"start_time": {"after_": PAST_THE_END}}}),
        ("POST", "/flow_runs/filter", {"flow_runs": {"start_time": {"after_": 1e20}}}),
        ("POST", "/flows/filter", {"flows": {"name": {"like_": "a" * 50_001}}}),
        ("GET", "/flows/?offset=100000000000000000000", None),
        ("POST", "/logs/", [{"name": "n", "level": 20, "message": "m", "timestamp": BEFORE_THE_START}]),
    ]
    for method, path, body in cases:
        status, answer = server(method, path, body)
        assert status == 422, (path, status, answer)
        assert answer["exception_detail"][0]["loc"][0] in ("body", "query")
    # The server reads its database: the largest offset is answered.
    assert server("GET", "/flows/?offset=2147483647") == (200, [])
