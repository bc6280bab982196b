"""Variables (2.20 ``/variables/``), against the answers of the 2.20 reference server."""

from __future__ import annotations

import pytest

from tests.helpers import ApiClient

NAME_RULE = "Variable name must only contain lowercase letters, numbers, and underscores."


def _create(api: ApiClient, **body: object) -> dict:
    response = api.post("/variables/", {"value": "v", **body})
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_answers_the_variable_and_coerces_numbers_to_text(api: ApiClient) -> None:
    created = _create(api, name="my_var", value=5, tags=["a"])
    assert set(created) == {"id", "created", "updated", "name", "value", "tags"}
    assert (created["name"], created["value"], created["tags"]) == ("my_var", "5", ["a"])
    assert _create(api, name="no_tags")["tags"] == []


def test_a_taken_name_is_the_generic_integrity_conflict(api: ApiClient) -> None:
    _create(api, name="dup")
    response = api.post("/variables/", {"name": "dup", "value": "x"})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Data integrity conflict.")


@pytest.mark.parametrize("name", ["My-Var", "my var", "a-b", "ü"])
def test_names_are_lowercase_letters_digits_and_underscores(api: ApiClient, name: str) -> None:
    response = api.post("/variables/", {"name": name, "value": "v1"})
    assert response.status_code == 422
    assert response.json() == {
        "exception_message": "Invalid request received.",
        "exception_detail": [{"loc": ["body", "name"], "msg": NAME_RULE, "type": "value_error"}],
        "request_body": {"name": name, "value": "v1"},
    }


def test_create_validation_errors(api: ApiClient) -> None:
    errors = api.post("/variables/", {"value": "v1"}).json()["exception_detail"]
    assert errors == [{"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"}]
    errors = api.post("/variables/", {"name": "x", "value": {"a": 1}}).json()["exception_detail"]
    assert errors == [{"loc": ["body", "value"], "msg": "str type expected", "type": "type_error.str"}]
    errors = api.post("/variables/", {"name": "x", "value": "v", "bogus": 1}).json()["exception_detail"]
    assert errors == [{"loc": ["body", "bogus"], "msg": "extra fields not permitted", "type": "value_error.extra"}]
    errors = api.post("/variables/", {"name": "x" * 256, "value": "v"}).json()["exception_detail"]
    assert errors == [
        {
            "loc": ["body", "name"],
            "msg": "ensure this value has at most 255 characters",
            "type": "value_error.any_str.max_length",
            "ctx": {"limit_value": 255},
        }
    ]


def test_read_update_delete_by_name_and_by_id(api: ApiClient) -> None:
    created = _create(api, name="my_var", value="v1", tags=["a"])
    assert api.get("/variables/name/my_var").json() == created
    assert api.get(f"/variables/{created['id']}").json() == created

    assert api.patch("/variables/name/my_var", {"value": "v2"}).status_code == 204
    changed = api.get("/variables/name/my_var").json()
    assert (changed["value"], changed["tags"]) == ("v2", ["a"])
    assert changed["updated"] > created["updated"]
    assert api.patch(f"/variables/{created['id']}", {"name": "renamed"}).status_code == 204
    assert api.get("/variables/name/renamed").json()["value"] == "v2"

    response = api.patch("/variables/name/renamed", {"name": "Bad Name"})
    assert response.json()["exception_detail"][0]["msg"] == NAME_RULE
    assert api.delete("/variables/name/renamed").status_code == 204
    assert api.delete("/variables/name/renamed").json() == {"detail": "Variable not found."}


def test_missing_variables_are_404(api: ApiClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for response in (
        api.get("/variables/name/nope"),
        api.patch("/variables/name/nope", {"value": "v"}),
        api.delete("/variables/name/nope"),
        api.get(f"/variables/{missing}"),
        api.delete(f"/variables/{missing}"),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "Variable not found."}
    # Not a UUID: no route matches, as in the reference.
    assert api.get("/variables/abc").json() == {"detail": "Not Found"}


def test_filter_sorts_by_name_and_count_uses_the_same_filter(api: ApiClient) -> None:
    for name, value, tags in (("b_var", "two", ["x"]), ("a_var", "one", []), ("c_other", "three", ["x", "y"])):
        _create(api, name=name, value=value, tags=tags)
    names = [v["name"] for v in api.post("/variables/filter", {}).json()]
    assert names == ["a_var", "b_var", "c_other"]
    body = {"sort": "NAME_DESC", "variables": {"name": {"like_": "var"}}}
    assert [v["name"] for v in api.post("/variables/filter", body).json()] == ["b_var", "a_var"]
    tagged = {"variables": {"tags": {"all_": ["x"]}}}
    assert api.post("/variables/count", tagged).json() == 2
    assert [v["name"] for v in api.post("/variables/filter", {**tagged, "limit": 1, "offset": 1}).json()] == ["c_other"]
    assert api.post("/variables/count", {"variables": {"tags": {"is_null_": True}}}).json() == 1
    assert api.post("/variables/count", {"variables": {"value": {"any_": ["one", "two"]}}}).json() == 2


def test_filter_rejects_an_unknown_sort(api: ApiClient) -> None:
    response = api.post("/variables/filter", {"sort": "BAD"})
    assert response.status_code == 422
    assert response.json()["exception_detail"] == [
        {
            "loc": ["body", "sort"],
            "msg": "value is not a valid enumeration member; permitted: "
            "'CREATED_DESC', 'UPDATED_DESC', 'NAME_DESC', 'NAME_ASC'",
            "type": "type_error.enum",
            "ctx": {"enum_values": ["CREATED_DESC", "UPDATED_DESC", "NAME_DESC", "NAME_ASC"]},
        }
    ]
