"""Every work pool name the server accepts is reachable by the name routes; the names the
reference refuses are refused (issue #19 item 8)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from flows_app.models import WorkPool
from tests.helpers import ApiClient, free_port
from tests.stress.harness import Server, request

EMPTY_NAME = {"detail": "Work pool name cannot be empty."}
# Accepted by the reference, and some of them easy to lose on the way: spaces, dots, URL
# delimiters, non-ASCII, and the path segments of the POST routes beside the name routes.
ACCEPTED = ["with space", " padded ", "dots.in.name", ".", "..", "q?x#y", "a+b;c=d", "ünïcødé 🚀", "filter", "count"]


def at(name: str) -> str:
    """``name`` as one path segment (dots too, which some clients would resolve away)."""
    return quote(name, safe="").replace(".", "%2E")


@pytest.mark.parametrize("name", ["", " ", "'", '""', " ' \" "])
def test_a_name_empty_but_for_quotes_and_spaces_is_refused_as_the_reference_does(api: ApiClient, name: str) -> None:
    pools = WorkPool.objects.count()
    response = api.post("/work_pools/", {"name": name})
    assert (response.status_code, response.json()) == (400, EMPTY_NAME)
    assert WorkPool.objects.count() == pools


@pytest.mark.parametrize("name", ["a/b", "50%", "x&y", "<p>", "p>"])
def test_names_with_the_reference_s_invalid_characters_are_a_422(api: ApiClient, name: str) -> None:
    response = api.post("/work_pools/", {"name": name})
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["type"] == "value_error.invalidname"
    queue = api.post("/work_pools/default-agent-pool/queues", {"name": name})
    assert queue.status_code == 422


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_accepted_pool_name_is_reachable_by_every_name_route(api: ApiClient, name: str) -> None:
    created = api.post("/work_pools/", {"name": name})
    assert created.status_code == 201, created.content
    pool = f"/work_pools/{at(name)}"
    assert api.get(pool).json()["id"] == created.json()["id"]
    assert api.patch(pool, {"description": "reached"}).status_code == 204
    assert api.get(pool).json()["description"] == "reached"
    assert api.post(f"{pool}/get_scheduled_flow_runs", {}).json() == []
    assert [q["name"] for q in api.post(f"{pool}/queues/filter", {}).json()] == ["default"]
    assert api.post(f"{pool}/workers/heartbeat", {"name": "w"}).status_code == 204
    assert [w["name"] for w in api.post(f"{pool}/workers/filter", {}).json()] == ["w"]
    assert api.delete(pool).status_code == 204
    assert api.get(pool).json() == {"detail": "Work pool not found"}


def test_the_routes_of_the_same_paths_still_answer_for_themselves(api: ApiClient) -> None:
    api.post("/work_pools/", {"name": "filter"})
    assert "filter" in [pool["name"] for pool in api.post("/work_pools/filter", {}).json()]
    assert api.post("/work_pools/count", {}).json() == WorkPool.objects.count()
    assert api.get("/work_pools/count").json() == {"detail": "Work pool not found"}
    assert api.put("/work_pools/filter", {}).status_code == 405


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_accepted_queue_and_worker_name_is_reachable_in_its_pool(api: ApiClient, name: str) -> None:
    api.post("/work_pools/", {"name": "pool"})
    assert api.post("/work_pools/pool/queues", {"name": name}).status_code == 201
    queue = f"/work_pools/pool/queues/{at(name)}"
    assert api.get(queue).json()["name"] == name
    assert api.patch(queue, {"priority": 7}).status_code == 204
    assert api.get(queue).json()["priority"] == 7
    assert api.delete(queue).status_code == 204
    assert api.get(queue).status_code == 404
    assert api.post("/work_pools/pool/workers/heartbeat", {"name": name}).status_code == 204
    assert api.delete(f"/work_pools/pool/workers/{at(name)}").status_code == 204
    assert api.post("/work_pools/pool/workers/filter", {}).json() == []


def test_a_worker_called_heartbeat_is_reachable(api: ApiClient) -> None:
    api.post("/work_pools/", {"name": "pool"})
    assert api.post("/work_pools/pool/workers/heartbeat", {"name": "heartbeat"}).status_code == 204
    assert api.delete("/work_pools/pool/workers/heartbeat").status_code == 204
    assert api.delete("/work_pools/pool/workers/heartbeat").json() == {"detail": "Worker not found."}


@pytest.mark.slow
def test_names_reach_their_pool_through_orion_start() -> None:
    server = Server(port=free_port())
    try:
        server.manage("migrate", "--noinput", "-v", "0")
        server.start(services=False)
        assert request(server.base_url, "POST", "/work_pools/", {"name": ""}) == (400, EMPTY_NAME)
        for name in ACCEPTED:
            status, created = request(server.base_url, "POST", "/work_pools/", {"name": name})
            assert status == 201, (name, created)
            status, read = request(server.base_url, "GET", f"/work_pools/{at(name)}")
            assert (status, read["id"]) == (200, created["id"]), name
            assert request(server.base_url, "DELETE", f"/work_pools/{at(name)}")[0] == 204
    finally:
        server.stop()
