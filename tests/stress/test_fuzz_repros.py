"""Every input of issue #19 that the schema fuzzer missed, as a regression test.

The fuzz run's hostile phase sends the same inputs (``HostilePhase.known_repros`` and
``raw_http``); these keep them in the normal suite. A bad value gets a 4xx naming it (or,
where the value is legal, a 2xx that stores it faithfully), never a 5xx, and a refused
create leaves nothing behind. Chunked and oversized bodies go through ``orion_start``:
the test client never sends a body without its length.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import ApiClient
from tests.stress import hostile
from tests.stress.harness import Server
from tests.stress.readback import POSITION, Client, first_difference


@pytest.fixture
def flow(api: ApiClient) -> dict[str, Any]:
    response = api.post("/flows/", {"name": f"repro-{uuid.uuid4().hex[:8]}"})
    assert response.status_code == 201
    return response.json()  # type: ignore[no-any-return]


def run_count(api: ApiClient) -> int:
    return api.post("/flow_runs/count", {}).json()  # type: ignore[no-any-return]


def test_a_deeply_nested_parameters_value_is_refused_or_stored_readably(api: ApiClient, flow: dict[str, Any]) -> None:
    sent = hostile.nested(300, 1, "dict")
    created = api.post("/flow_runs/", raw=hostile.encode({"flow_id": flow["id"], "parameters": sent}).decode())
    assert created.status_code in (201, 422), created.content
    listed = api.post("/flow_runs/filter", {})
    assert listed.status_code == 200, listed.content
    if created.status_code == 422:
        assert listed.json() == []
    else:
        assert api.get(f"/flow_runs/{created.json()['id']}").status_code == 200


def test_bulk_delete_without_a_body_deletes_nothing(api: ApiClient, flow: dict[str, Any]) -> None:
    for _ in range(3):
        assert api.post("/flow_runs/", {"flow_id": flow["id"]}).status_code == 201
    answer = api.post("/flow_runs/bulk_delete", raw="")
    assert answer.status_code < 500
    assert run_count(api) == 3


EXTREME_DATETIMES = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", 1e20]


@pytest.mark.parametrize("when", EXTREME_DATETIMES)
def test_an_extreme_datetime_in_a_filter_is_refused(api: ApiClient, when: Any) -> None:
    answer = api.post("/flow_runs/filter", {"flow_runs": {"start_time": {"after_": when}}})
    assert answer.status_code == 422, answer.content
    assert "start_time" in answer.content.decode()


@pytest.mark.parametrize("when", EXTREME_DATETIMES)
def test_an_extreme_datetime_in_a_create_is_refused(api: ApiClient, flow: dict[str, Any], when: Any) -> None:
    body = {"flow_id": flow["id"], "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": when}}}
    answer = api.post("/flow_runs/", body)
    assert answer.status_code == 422, answer.content
    assert run_count(api) == 0


def test_a_schedule_interval_of_1e30_is_refused(api: ApiClient, flow: dict[str, Any]) -> None:
    answer = api.post("/deployments/", {"name": "d", "flow_id": flow["id"], "schedule": {"interval": 1e30}})
    assert answer.status_code == 422, answer.content
    assert "interval" in answer.content.decode()


def test_scheduling_from_start_time_7e278_is_refused(api: ApiClient, flow: dict[str, Any]) -> None:
    deployment = api.post("/deployments/", {"name": "d", "flow_id": flow["id"], "schedule": {"interval": 60}})
    assert deployment.status_code == 201
    answer = api.post(f"/deployments/{deployment.json()['id']}/schedule", {"start_time": 7e278})
    assert answer.status_code == 422, answer.content


def test_a_body_nested_1000_levels_holding_nul_is_refused(api: ApiClient, flow: dict[str, Any]) -> None:
    body = {"flow_id": flow["id"], "parameters": hostile.nested(1000, "\x00", "list")}
    answer = api.post("/flow_runs/", raw=hostile.encode(body).decode())
    assert answer.status_code == 422, answer.content
    assert run_count(api) == 0


def test_a_like_pattern_over_50000_characters_is_not_a_server_error(api: ApiClient, flow: dict[str, Any]) -> None:
    answer = api.post("/flows/filter", {"flows": {"name": {"like_": "a" * 50_001}}})
    assert answer.status_code in (200, 422), answer.content


def test_a_paging_offset_past_64_bits_is_not_an_error(api: ApiClient) -> None:
    answer = api.get(f"/flows/?offset={10**20}")
    assert answer.status_code in (200, 422), answer.content


@pytest.mark.parametrize("number", [10**40, -(10**40), 2**64])
def test_integers_beyond_64_bits_come_back_exact(api: ApiClient, flow: dict[str, Any], number: int) -> None:
    created = api.post("/flow_runs/", {"flow_id": flow["id"], "parameters": {"n": number}})
    if created.status_code == 422:
        assert "parameters" in created.content.decode()
        return
    assert created.status_code == 201, created.content
    assert api.post("/flow_runs/filter", {}).status_code == 200
    read = api.get(f"/flow_runs/{created.json()['id']}")
    assert first_difference({"n": number}, read.json()["parameters"]) is None


@pytest.mark.parametrize("broken", ['{"name": "x",}', '{"name": ', '{"name": "x"} trailing'])
def test_malformed_json_is_refused_with_its_position(api: ApiClient, broken: str) -> None:
    answer = api.post("/flows/", raw=broken)
    assert answer.status_code == 422
    assert POSITION.search(answer.content.decode()), answer.content


# -- through orion_start ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[Client]:
    running = Server(port=free_port(), extra_env={"ORION_MAX_REQUEST_BODY_BYTES": "65536"})
    running.prepare()
    running.start("api", services=False)
    try:
        yield Client(running.base_url)
    finally:
        running.stop()


def test_chunked_bodies_are_read(server: Client) -> None:
    name = f"chunked-{uuid.uuid4().hex[:8]}"
    created = server.send("POST", "/flows/", {"name": name}, chunked=True)
    assert created.status == 201 and created.body["name"] == name, created.text
    absent = {"flows": {"name": {"any_": ["absent"]}}}
    assert server.send("POST", "/flows/filter", absent, chunked=True).body == []
    runs = [server.send("POST", "/flow_runs/", {"flow_id": created.body["id"]}).body["id"] for _ in range(3)]
    one = {"flow_runs": {"id": {"any_": [runs[0]]}}}
    assert server.send("POST", "/flow_runs/bulk_delete", one, chunked=True).status == 200
    assert [server.send("GET", f"/flow_runs/{run}").status for run in runs] == [404, 200, 200]


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_refused_with_413(server: Client, chunked: bool) -> None:
    answer = server.send("POST", "/flows/", raw=b'{"name": "' + b"x" * 70_000 + b'"}', chunked=chunked)
    assert answer.status == 413, answer.text
