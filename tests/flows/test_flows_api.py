"""Every /flows route, compared with the reference's recorded answers (examples.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from flows_app.models import Flow
from tests.factories import DeploymentFactory, FlowFactory, FlowRunFactory
from tests.helpers import ApiClient

FLOW_KEYS = {"id", "created", "updated", "name", "tags"}


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_create_new_flow_is_201_with_the_full_shape(api: ApiClient) -> None:
    # reference example #01
    response = api.post("/flows/", {"name": "etl-demo", "tags": ["demo"]})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == FLOW_KEYS
    assert body["name"] == "etl-demo"
    assert body["tags"] == ["demo"]
    uuid.UUID(body["id"])
    assert body["created"].endswith("+00:00")
    assert parse_time(body["updated"]) >= parse_time(body["created"])


def test_create_existing_flow_is_200_and_unchanged(api: ApiClient) -> None:
    # reference example #02: same id, tags of the second request ignored
    first = api.post("/flows/", {"name": "etl-demo", "tags": ["demo"]}).json()
    response = api.post("/flows/", {"name": "etl-demo", "tags": ["other"]})
    assert response.status_code == 200
    assert response.json() == first


def test_create_flow_defaults_tags_to_empty(api: ApiClient) -> None:
    assert api.post("/flows/", {"name": "plain"}).json()["tags"] == []


def test_create_flow_with_invalid_name_and_unknown_key(api: ApiClient) -> None:
    # reference example #16, exact body
    response = api.post("/flows/", {"name": "bad/name", "colour": "red"})
    assert response.status_code == 422
    assert response.json() == {
        "exception_message": "Invalid request received.",
        "exception_detail": [
            {
                "loc": ["body", "name"],
                "msg": (
                    "Name 'bad/name' contains an invalid character. Must not contain any of: ['/', '%', '&', '>', '<']."
                ),
                "type": "value_error.invalidname",
            },
            {
                "loc": ["body", "colour"],
                "msg": "extra fields not permitted",
                "type": "value_error.extra",
            },
        ],
        "request_body": {"name": "bad/name", "colour": "red"},
    }


@pytest.mark.parametrize("char", ["/", "%", "&", ">", "<"])
def test_every_invalid_name_character_is_rejected(api: ApiClient, char: str) -> None:
    response = api.post("/flows/", {"name": f"a{char}b"})
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["type"] == "value_error.invalidname"


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [
        ({}, ["body", "name"], "value_error.missing"),
        ({"name": None}, ["body", "name"], "type_error.none.not_allowed"),
        ({"name": "x", "tags": "x"}, ["body", "tags"], "type_error.list"),
        ({"name": "x", "tags": None}, ["body", "tags"], "type_error.none.not_allowed"),
        ({"name": ["x"]}, ["body", "name"], "type_error.str"),
    ],
)
def test_create_flow_validation_errors(
    api: ApiClient, body: dict[str, object], loc: list[str], error_type: str
) -> None:
    response = api.post("/flows/", body)
    assert response.status_code == 422
    detail = response.json()["exception_detail"]
    assert {"loc": loc, "type": error_type} == {k: detail[0][k] for k in ("loc", "type")}
    assert Flow.objects.count() == 0


def test_read_flow(api: ApiClient) -> None:
    created = api.post("/flows/", {"name": "read-me", "tags": ["a"]}).json()
    response = api.get(f"/flows/{created['id']}")
    assert (response.status_code, response.json()) == (200, created)


def test_read_unknown_flow_is_404(api: ApiClient) -> None:
    response = api.get(f"/flows/{uuid.uuid4()}")
    assert (response.status_code, response.json()) == (404, {"detail": "Flow not found"})


def test_read_flow_with_malformed_uuid_is_422(api: ApiClient) -> None:
    # reference example #18, exact body
    response = api.get("/flows/not-a-uuid")
    assert response.status_code == 422
    assert response.json() == {
        "exception_message": "Invalid request received.",
        "exception_detail": [{"loc": ["path", "id"], "msg": "value is not a valid uuid", "type": "type_error.uuid"}],
        "request_body": None,
    }


@pytest.mark.parametrize("name", ["simple", "with space", "dotted.name", "ünïcode", "a:b"])
def test_read_flow_by_name(api: ApiClient, name: str) -> None:
    created = api.post("/flows/", {"name": name}).json()
    from urllib.parse import quote

    response = api.get(f"/flows/name/{quote(name)}")
    assert (response.status_code, response.json()) == (200, created)


def test_read_flow_by_unknown_name_is_404(api: ApiClient) -> None:
    response = api.get("/flows/name/nobody")
    assert (response.status_code, response.json()) == (404, {"detail": "Flow not found"})


def test_patch_flow_tags(api: ApiClient) -> None:
    created = api.post("/flows/", {"name": "patch-me", "tags": ["a"]}).json()
    response = api.patch(f"/flows/{created['id']}", {"tags": ["b", "c"]})
    assert response.status_code == 204
    assert response.content == b""
    after = api.get(f"/flows/{created['id']}").json()
    assert after["tags"] == ["b", "c"]
    assert after["name"] == "patch-me"
    assert parse_time(after["updated"]) > parse_time(created["updated"])


def test_patch_flow_with_empty_body_changes_nothing(api: ApiClient) -> None:
    created = api.post("/flows/", {"name": "keep", "tags": ["a"]}).json()
    assert api.patch(f"/flows/{created['id']}", {}).status_code == 204
    assert api.get(f"/flows/{created['id']}").json()["tags"] == ["a"]


def test_patch_flow_name_is_rejected(api: ApiClient) -> None:
    # reference example #25, exact body
    created = api.post("/flows/", {"name": "fixed"}).json()
    response = api.patch(f"/flows/{created['id']}", {"name": "renamed"})
    assert response.status_code == 422
    assert response.json() == {
        "exception_message": "Invalid request received.",
        "exception_detail": [
            {"loc": ["body", "name"], "msg": "extra fields not permitted", "type": "value_error.extra"}
        ],
        "request_body": {"name": "renamed"},
    }


def test_patch_unknown_flow_is_404(api: ApiClient) -> None:
    response = api.patch(f"/flows/{uuid.uuid4()}", {"tags": []})
    assert (response.status_code, response.json()) == (404, {"detail": "Flow not found"})


def test_patch_malformed_uuid_is_422(api: ApiClient) -> None:
    response = api.patch("/flows/nope", {"tags": []})
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["loc"] == ["path", "id"]


def test_delete_flow_cascades_to_runs_and_deployments(api: ApiClient) -> None:
    flow = FlowFactory()
    FlowRunFactory(flow=flow)
    DeploymentFactory(flow=flow)
    response = api.delete(f"/flows/{flow.id}")
    assert (response.status_code, response.content) == (204, b"")
    assert not flow.flow_runs.exists()
    assert not flow.deployments.exists()
    assert api.get(f"/flows/{flow.id}").status_code == 404


def test_delete_unknown_flow_is_404(api: ApiClient) -> None:
    # reference example #59
    response = api.delete("/flows/00000000-0000-0000-0000-000000000009")
    assert (response.status_code, response.json()) == (404, {"detail": "Flow not found"})


def test_flows_filter_and_count_read_each_window_and_match_the_rows(
    api: ApiClient, django_assert_num_queries: Any
) -> None:
    """The dashboard asks for the flows of its runs with a window that moves with the
    clock: each request's page and count are those of its own window (the statement is
    compiled once per shape), equal to reading the rows, in one statement each."""
    anchor = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    flows = [FlowFactory(name=f"flow-{day}", tags=[f"t{day}"]) for day in range(8)]
    for day, flow in enumerate(flows):
        FlowRunFactory(flow=flow, expected_start_time=anchor - dt.timedelta(days=day, minutes=day))
    shape = {"flow_runs": {"expected_start_time": {"after_": ""}}, "sort": "NAME_DESC"}
    for days in [7.5, 2.5, 0.5, 4.5, 2.5, 30]:
        after = anchor - dt.timedelta(days=days)
        body = {**shape, "flow_runs": {"expected_start_time": {"after_": after.isoformat()}}}
        matching = Flow.objects.filter(flow_runs__expected_start_time__gte=after).distinct().order_by("-name")
        expected = [
            {"id": str(flow.id), "created": flow.created, "updated": flow.updated, "name": flow.name, "tags": flow.tags}
            for flow in matching
        ]
        with django_assert_num_queries(1):
            page = api.post("/flows/filter", body).json()
        assert [
            {**row, "created": parse_time(row["created"]), "updated": parse_time(row["updated"])} for row in page
        ] == (expected), days
        if page:
            assert api.get(f"/flows/{page[0]['id']}").json() == page[0]
        count_body = {"flow_runs": body["flow_runs"]}
        with django_assert_num_queries(1):
            assert api.post("/flows/count", count_body).json() == len(expected), days
    with django_assert_num_queries(0):
        assert api.post("/flows/filter", {"limit": 0}).json() == []
