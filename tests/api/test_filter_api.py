"""The filter engine through POST /flows/filter, /flows/count and GET /flows/ (reference §C-§E)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from runs_app.states import StateType
from tests.factories import DeploymentFactory, FlowFactory, FlowRunFactory, TaskRunFactory
from tests.helpers import ApiClient


@pytest.fixture
def flows(db: None) -> dict[str, Any]:
    """Six flows with varied names and tags, some with runs and deployments."""
    made = {
        "etl-a": FlowFactory(name="etl-a", tags=["a", "b"]),
        "etl-b": FlowFactory(name="etl-b", tags=["b"]),
        "load_x": FlowFactory(name="load_x", tags=[]),
        "Report%1": FlowFactory(name="Report%1", tags=["a"]),
        "zeta": FlowFactory(name="zeta", tags=["c", "a"]),
        "axb": FlowFactory(name="axb", tags=[]),
    }
    running = FlowRunFactory(flow=made["etl-a"], state_type=StateType.RUNNING, tags=["nightly"])
    FlowRunFactory(flow=made["etl-b"], state_type=StateType.COMPLETED)
    TaskRunFactory(flow_run=running, state_type=StateType.FAILED, tags=["db"])
    DeploymentFactory(flow=made["zeta"], name="prod", tags=["x"], is_schedule_active=False)
    return made


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [flow["name"] for flow in response.json()]


def count(api: ApiClient, body: dict[str, Any]) -> int:
    response = api.post("/flows/count", body)
    assert response.status_code == 200, response.content
    assert isinstance(response.json(), int)
    return int(response.json())


ALL_SORTED = ["Report%1", "axb", "etl-a", "etl-b", "load_x", "zeta"]


@pytest.mark.parametrize(
    ("flow_filter", "expected"),
    [
        ({}, ALL_SORTED),
        ({"name": {"any_": ["etl-a", "zeta", "missing"]}}, ["etl-a", "zeta"]),
        ({"name": {"any_": []}}, []),
        ({"name": {"like_": "ETL"}}, ["etl-a", "etl-b"]),
        # wildcards are not escaped, as in the reference
        ({"name": {"like_": "%"}}, ALL_SORTED),
        ({"name": {"like_": "a_b"}}, ["axb"]),
        ({"name": {"any_": ["etl-a", "etl-b"], "like_": "-b"}}, ["etl-b"]),
        ({"tags": {"all_": ["a"]}}, ["Report%1", "etl-a", "zeta"]),
        ({"tags": {"all_": ["a", "b"]}}, ["etl-a"]),
        ({"tags": {"all_": []}}, ALL_SORTED),
        ({"tags": {"is_null_": True}}, ["axb", "load_x"]),
        ({"tags": {"is_null_": False}}, ["Report%1", "etl-a", "etl-b", "zeta"]),
        (
            {"tags": {"operator": "or_", "all_": ["c"], "is_null_": True}},
            ["axb", "load_x", "zeta"],
        ),
        ({"tags": {"all_": ["a"], "is_null_": True}}, []),
        ({"operator": "or_", "name": {"any_": ["axb"]}, "tags": {"all_": ["b"]}}, ["axb", "etl-a", "etl-b"]),
        ({"operator": "and_", "name": {"like_": "etl"}, "tags": {"all_": ["a"]}}, ["etl-a"]),
        ({"deployment": {"is_null_": False}}, ["zeta"]),
        ({"name": None, "tags": None, "id": None, "operator": "and_"}, ALL_SORTED),
        ({"name": {}}, ALL_SORTED),
    ],
)
def test_flow_filter_operators(
    api: ApiClient, flows: dict[str, Any], flow_filter: dict[str, Any], expected: list[str]
) -> None:
    assert names(api.post("/flows/filter", {"flows": flow_filter})) == expected
    assert count(api, {"flows": flow_filter}) == len(expected)


def test_id_any(api: ApiClient, flows: dict[str, Any]) -> None:
    wanted = [str(flows["etl-b"].id), str(uuid.uuid4())]
    assert names(api.post("/flows/filter", {"flows": {"id": {"any_": wanted}}})) == ["etl-b"]


def test_bad_uuid_in_a_filter_is_422_with_its_location(api: ApiClient, flows: dict[str, Any]) -> None:
    response = api.post("/flows/filter", {"flows": {"id": {"any_": ["nope"]}}})
    assert response.status_code == 422
    assert response.json()["exception_detail"] == [
        {
            "loc": ["body", "flows", "id", "any_", 0],
            "msg": "value is not a valid uuid",
            "type": "type_error.uuid",
        }
    ]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"flows": {"bogus": 1}}, ["body", "flows", "bogus"]),
        ({"flows": {"name": {"bogus_": 1}}}, ["body", "flows", "name", "bogus_"]),
    ],
)
def test_unknown_filter_keys_are_rejected(api: ApiClient, body: dict[str, Any], loc: list[str]) -> None:
    response = api.post("/flows/filter", body)
    assert response.status_code == 422
    assert response.json()["exception_detail"] == [
        {"loc": loc, "msg": "extra fields not permitted", "type": "value_error.extra"}
    ]


def test_bad_operator_value_is_an_enum_error(api: ApiClient, flows: dict[str, Any]) -> None:
    response = api.post("/flows/filter", {"flows": {"operator": "xor_"}})
    assert response.status_code == 422
    error = response.json()["exception_detail"][0]
    assert error["loc"] == ["body", "flows", "operator"]
    assert error["type"] == "type_error.enum"
    assert error["ctx"] == {"enum_values": ["and_", "or_"]}


@pytest.mark.parametrize(
    ("related", "expected"),
    [
        ({"flow_runs": {}}, ["etl-a", "etl-b"]),
        ({"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}, ["etl-a"]),
        ({"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}, []),
        ({"flow_runs": {"tags": {"all_": ["nightly"]}}}, ["etl-a"]),
        ({"task_runs": {"state": {"type": {"any_": ["FAILED"]}}}}, ["etl-a"]),
        ({"task_runs": {"tags": {"all_": ["db"]}}, "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}, []),
        ({"deployments": {}}, ["zeta"]),
        ({"deployments": {"name": {"any_": ["prod"]}}}, ["zeta"]),
        ({"deployments": {"is_schedule_active": {"eq_": True}}}, []),
        ({"deployments": {"tags": {"all_": ["x"]}}, "flows": {"tags": {"all_": ["c"]}}}, ["zeta"]),
        ({"flow_runs": None, "task_runs": None, "deployments": None}, ALL_SORTED),
    ],
)
def test_flows_by_related_resources(
    api: ApiClient, flows: dict[str, Any], related: dict[str, Any], expected: list[str]
) -> None:
    assert names(api.post("/flows/filter", related)) == expected
    assert count(api, related) == len(expected)


def test_the_2_7_client_filter_shape_is_accepted(api: ApiClient, flows: dict[str, Any]) -> None:
    # The 2.7 client sends every sub-filter key with explicit nulls.
    body = {
        "flows": {"operator": "and_", "id": None, "name": {"any_": ["etl-a"], "like_": None}, "tags": None},
        "flow_runs": None,
        "task_runs": None,
        "deployments": None,
        "sort": "NAME_DESC",
        "limit": None,
        "offset": 0,
    }
    assert names(api.post("/flows/filter", body)) == ["etl-a"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("NAME_ASC", ALL_SORTED),
        ("NAME_DESC", list(reversed(ALL_SORTED))),
        ("CREATED_DESC", ["axb", "zeta", "Report%1", "load_x", "etl-b", "etl-a"]),
    ],
)
def test_sorts(api: ApiClient, flows: dict[str, Any], sort: str, expected: list[str]) -> None:
    assert names(api.post("/flows/filter", {"sort": sort})) == expected


def test_updated_desc_sort(api: ApiClient, flows: dict[str, Any]) -> None:
    assert api.patch(f"/flows/{flows['load_x'].id}", {"tags": ["new"]}).status_code == 204
    assert names(api.post("/flows/filter", {"sort": "UPDATED_DESC"}))[0] == "load_x"


def test_unknown_sort_is_422_listing_permitted_values(api: ApiClient) -> None:
    # reference example #28, exact body
    response = api.post("/flows/filter", {"sort": "NAME"})
    assert response.status_code == 422
    assert response.json() == {
        "exception_message": "Invalid request received.",
        "exception_detail": [
            {
                "loc": ["body", "sort"],
                "msg": (
                    "value is not a valid enumeration member; permitted: 'CREATED_DESC', "
                    "'UPDATED_DESC', 'NAME_ASC', 'NAME_DESC'"
                ),
                "type": "type_error.enum",
                "ctx": {"enum_values": ["CREATED_DESC", "UPDATED_DESC", "NAME_ASC", "NAME_DESC"]},
            }
        ],
        "request_body": {"sort": "NAME"},
    }


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ({"limit": 2}, ALL_SORTED[:2]),
        ({"limit": 2, "offset": 2}, ALL_SORTED[2:4]),
        ({"offset": 5}, ALL_SORTED[5:]),
        ({"limit": 0}, []),
        ({"limit": None}, ALL_SORTED),
        ({"limit": 200}, ALL_SORTED),
    ],
)
def test_pagination(api: ApiClient, flows: dict[str, Any], page: dict[str, Any], expected: list[str]) -> None:
    assert names(api.post("/flows/filter", page)) == expected


def test_limit_above_maximum(api: ApiClient) -> None:
    # reference example #17
    response = api.post("/flows/filter", {"limit": 201})
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "Invalid limit: must be less than or equal to 200."},
    )


def test_negative_limit(api: ApiClient) -> None:
    response = api.post("/flows/filter", {"limit": -1})
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "Invalid limit: must be greater than or equal to 0."},
    )


@pytest.mark.parametrize(
    ("page", "error_type"),
    [
        ({"offset": -1}, "value_error.number.not_ge"),
        ({"offset": "x"}, "type_error.integer"),
        ({"limit": "abc"}, "type_error.integer"),
    ],
)
def test_bad_page_values_are_validation_errors(api: ApiClient, page: dict[str, Any], error_type: str) -> None:
    response = api.post("/flows/filter", page)
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["type"] == error_type


def test_filter_and_count_run_one_query_each(
    api: ApiClient, flows: dict[str, Any], django_assert_num_queries: Any
) -> None:
    body = {
        "flows": {"tags": {"all_": ["a"]}},
        "flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}},
        "task_runs": {"state": {"type": {"any_": ["FAILED"]}}},
        "deployments": None,
    }
    # One SELECT of flows with an EXISTS sub-query for runs and tasks, whatever the page size.
    with django_assert_num_queries(1):
        assert names(api.post("/flows/filter", body)) == ["etl-a"]
    # One SELECT COUNT(*).
    with django_assert_num_queries(1):
        assert count(api, body) == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL_SORTED),
        ("?name=etl-a,zeta", ["etl-a", "zeta"]),
        ("?name__any=etl-a", ["etl-a"]),
        ("?name__like=ETL", ["etl-a", "etl-b"]),
        ("?tags__all=a,b", ["etl-a"]),
        ("?tags=a", ["Report%1", "etl-a", "zeta"]),
        ("?tags__is_null=true", ["axb", "load_x"]),
        ("?deployment__is_null=false", ["zeta"]),
        ("?name__like=etl&sort=NAME_DESC", ["etl-b", "etl-a"]),
        ("?limit=2&offset=1", ALL_SORTED[1:3]),
    ],
)
def test_get_list_with_query_string_filters(
    api: ApiClient, flows: dict[str, Any], query: str, expected: list[str]
) -> None:
    assert names(api.get(f"/flows/{query}")) == expected


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("?id=nope", ["query", "id", 0]),
        ("?tags__is_null=maybe", ["query", "tags__is_null"]),
        ("?sort=NOPE", ["query", "sort"]),
        ("?offset=-1", ["query", "offset"]),
        ("?limit=x", ["query", "limit"]),
    ],
)
def test_get_list_rejects_bad_query_values(api: ApiClient, query: str, loc: list[Any]) -> None:
    response = api.get(f"/flows/{query}")
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["loc"] == loc


def test_get_list_limit_above_maximum(api: ApiClient) -> None:
    response = api.get("/flows/?limit=500")
    assert response.status_code == 422
    assert response.json() == {"detail": "Invalid limit: must be less than or equal to 200."}


def test_top_level_nulls_mean_defaults(api: ApiClient, flows: dict[str, Any]) -> None:
    # The 2.20 client sends "sort": null, "offset": null on embedded bodies.
    body = {"flows": None, "sort": None, "limit": None, "offset": None}
    assert names(api.post("/flows/filter", body)) == ALL_SORTED


EMPTY_FLOW_FILTERS = [
    {"tags": {"all_": [], "is_null_": None, "operator": "or_"}, "operator": "and_"},
    {"name": {}, "deployment": None},
    {"tags": {}, "name": {"any_": None}},
]


@pytest.mark.parametrize("flow_filter", EMPTY_FLOW_FILTERS)
def test_a_flows_sub_filter_that_asks_nothing_narrows_no_run(
    api: ApiClient, flows: dict[str, Any], flow_filter: dict[str, Any]
) -> None:
    """A flows sub-filter whose every field is empty is no condition on the runs, on each
    route that reads flow-run filters (a schema fuzzer's shape; it answered 500)."""
    body = {"flows": flow_filter}
    listed = api.post("/flow_runs/filter", body)
    assert listed.status_code == 200, listed.content
    assert len(listed.json()) == 2
    assert api.post("/flow_runs/count", body).json() == 2
    assert api.post("/flow_runs/lateness", body).status_code == 200
    preview = api.post("/flow_runs/bulk_delete", {**body, "dry_run": True})
    assert preview.status_code == 200 and preview.json()["count"] == 2
    cancel = api.post("/flow_runs/bulk_set_state", {**body, "state": {"type": "CANCELLED"}, "dry_run": True})
    assert cancel.status_code == 200 and cancel.json()["count"] == 2
