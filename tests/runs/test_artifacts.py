"""Artifacts (2.20 ``/artifacts/``), against the answers of the 2.20 reference server."""

from __future__ import annotations

import pytest

from tests.factories import FlowFactory
from tests.helpers import ApiClient

MISSING = {"detail": "Artifact not found."}


def _create(api: ApiClient, **body: object) -> dict:
    response = api.post("/artifacts/", body)
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_answers_every_field_and_an_empty_body_is_an_artifact(api: ApiClient) -> None:
    created = _create(api, key="k1", type="markdown", data="# hi", description="d")
    assert {key: value for key, value in created.items() if key not in ("id", "created", "updated")} == {
        "key": "k1",
        "type": "markdown",
        "description": "d",
        "data": "# hi",
        "metadata_": None,
        "flow_run_id": None,
        "task_run_id": None,
    }
    assert created["created"] == created["updated"]
    assert api.get(f"/artifacts/{created['id']}").json() == created
    empty = _create(api)
    assert (empty["key"], empty["type"], empty["data"]) == (None, None, None)


@pytest.mark.parametrize(
    ("data", "stored"),
    [
        ([[1, 2]], {"1": 2}),  # a list of pairs becomes an object, as pydantic 1 does
        ([["a", 1], ["b", 2]], {"a": 1, "b": 2}),
        ([[1, 2, 3]], [[1, 2, 3]]),
        ('{"a": 1}', '{"a": 1}'),
        (5, 5),
        ({"x": [1]}, {"x": [1]}),
    ],
)
def test_data_is_any_json_but_pairs_become_an_object(api: ApiClient, data: object, stored: object) -> None:
    assert _create(api, type="table", data=data)["data"] == stored


def test_metadata_values_are_text(api: ApiClient) -> None:
    assert _create(api, metadata_={"a": 1, "b": "c"})["metadata_"] == {"a": "1", "b": "c"}
    response = api.post("/artifacts/", {"metadata_": {"a": {"nested": 1}}})
    assert response.json()["exception_detail"] == [
        {"loc": ["body", "metadata_", "a"], "msg": "str type expected", "type": "type_error.str"}
    ]


def test_keys_are_lowercase_letters_digits_and_dashes(api: ApiClient) -> None:
    response = api.post("/artifacts/", {"key": "Bad Key", "type": "markdown"})
    assert response.status_code == 422
    assert response.json()["exception_detail"] == [
        {
            "loc": ["body", "key"],
            "msg": "Artifact key must only contain lowercase letters, numbers, and dashes.",
            "type": "value_error",
        }
    ]
    errors = api.post("/artifacts/", {"key": "k2", "bogus": 1}).json()["exception_detail"]
    assert errors == [{"loc": ["body", "bogus"], "msg": "extra fields not permitted", "type": "value_error.extra"}]


def test_latest_per_key_keeps_the_collection_id_and_follows_deletes(api: ApiClient) -> None:
    first = _create(api, key="k1", type="markdown", data="# hi", description="d")
    second = _create(api, key="k1", type="markdown", data="# hi2")
    latest = api.get("/artifacts/k1/latest").json()
    # The reference answers the collection row: its own id, the first artifact's created time.
    assert latest["id"] not in (first["id"], second["id"])
    assert (latest["created"], latest["data"], latest["description"]) == (first["created"], "# hi2", None)
    assert "latest_id" not in latest
    [collection] = api.post("/artifacts/latest/filter", {}).json()
    assert (collection["id"], collection["latest_id"]) == (latest["id"], second["id"])
    assert api.post("/artifacts/latest/count", {}).json() == 1
    assert api.post("/artifacts/count", {}).json() == 2

    assert api.delete(f"/artifacts/{second['id']}").status_code == 204
    after = api.get("/artifacts/k1/latest").json()
    assert (after["id"], after["data"], after["description"]) == (latest["id"], "# hi", "d")
    assert api.delete(f"/artifacts/{second['id']}").json() == MISSING
    assert api.delete(f"/artifacts/{first['id']}").status_code == 204
    assert api.get("/artifacts/k1/latest").json() == MISSING
    assert api.post("/artifacts/latest/count", {}).json() == 0


def test_update_answers_204_only_for_the_latest_of_a_key(api: ApiClient) -> None:
    keyless = _create(api, type="table", data="x")
    older = _create(api, key="k1", data="old")
    newer = _create(api, key="k1", data="new")
    # Changed, but answered 404, as in the 2.20 reference (it counts collection rows).
    assert api.patch(f"/artifacts/{keyless['id']}", {"description": "x"}).json() == MISSING
    assert api.get(f"/artifacts/{keyless['id']}").json()["description"] == "x"
    assert api.patch(f"/artifacts/{older['id']}", {"description": "x"}).status_code == 404
    assert api.patch(f"/artifacts/{newer['id']}", {"description": "y"}).status_code == 204
    assert api.get("/artifacts/k1/latest").json()["description"] == "y"
    assert api.patch(f"/artifacts/{newer['id']}", {"key": "nope"}).status_code == 422


def test_missing_and_malformed_ids(api: ApiClient) -> None:
    assert api.get("/artifacts/00000000-0000-4000-8000-000000000000").json() == MISSING
    assert api.get("/artifacts/nokey/latest").json() == MISSING
    response = api.get("/artifacts/abc")
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["loc"] == ["path", "id"]


def test_filters_sorts_and_run_filters(api: ApiClient) -> None:
    flow = FlowFactory()
    run = api.post("/flow_runs/", {"flow_id": str(flow.id), "tags": ["nightly"]}).json()
    in_run = _create(api, key="b-key", type="table", flow_run_id=run["id"])
    _create(api, key="a-key", type="markdown")
    no_key = _create(api, type="link")

    # (Where keyless artifacts sort depends on the database, in the reference too.)
    with_key = {"artifacts": {"key": {"exists_": True}}}
    keys = [a["key"] for a in api.post("/artifacts/filter", {**with_key, "sort": "KEY_ASC"}).json()]
    assert keys == ["a-key", "b-key"]
    keys = [a["key"] for a in api.post("/artifacts/filter", {**with_key, "sort": "KEY_DESC"}).json()]
    assert keys == ["b-key", "a-key"]
    assert [a["id"] for a in api.post("/artifacts/filter", {"artifacts": {"key": {"exists_": False}}}).json()] == [
        no_key["id"]
    ]
    by_run = {"flow_runs": {"tags": {"all_": ["nightly"]}}}
    assert [a["id"] for a in api.post("/artifacts/filter", by_run).json()] == [in_run["id"]]
    assert api.post("/artifacts/count", {"flows": {"name": {"any_": [flow.name]}}}).json() == 1
    assert api.post("/artifacts/count", {"artifacts": {"type": {"not_any_": ["table"]}}}).json() == 2
    assert api.post("/artifacts/latest/count", {"artifacts": {"key": {"like_": "key"}}}).json() == 2
    latest = api.post("/artifacts/latest/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
    assert [c["latest_id"] for c in latest] == [in_run["id"]]
    ids = [a["id"] for a in api.post("/artifacts/filter", {}).json()]
    assert ids == sorted(ids, reverse=True)  # ID_DESC by default
