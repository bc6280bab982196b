"""The automation routes besides create: read, replace, enable/disable, delete, filter,
count, related-to and owned-by, with the answers the 2.20 reference gives (recorded
against it)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from orion_project.models import Workspace
from tests.automations.conftest import DEPLOYMENT_ID, REFERENCE_CREATES, document
from tests.helpers import ApiClient, WorkspaceApi

NOT_FOUND = {"exception_message": "Automation not found"}
RUN_DEPLOYMENT = {"type": "run-deployment", "deployment_id": DEPLOYMENT_ID}
LOOPING = {
    "enabled": False,
    "trigger": {"posture": "Reactive", "expect": ["prefect.flow-run.*"]},
    "actions": [{"type": "run-deployment", "source": "inferred"}],
}
INFERRED_LOOP = (
    "Running an inferred deployment from a flow run state change event will lead to an infinite loop of flow "
    "runs.  Please choose a specific deployment and add additional filtering labels to the match or "
    "match_related for this automation's trigger."
)


def create(api: ApiClient, **fields: Any) -> dict[str, Any]:
    response = api.post("/automations/", document(**fields))
    assert response.status_code == 201, response.json()
    return response.json()  # type: ignore[no-any-return]


def names(response: Any) -> list[str]:
    assert response.status_code == 200
    return [automation["name"] for automation in response.json()]


def test_read_and_unknown_ids(api: ApiClient) -> None:
    created = create(api, description="about")
    assert api.get(f"/automations/{created['id']}").json() == created
    assert list(created) == [*REFERENCE_CREATES["minimal"]["answer"], "id", "created", "updated"]
    unknown = uuid.uuid4()
    for method in ("get", "delete"):
        response = getattr(api, method)(f"/automations/{unknown}")
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert api.put(f"/automations/{unknown}", document()).json() == NOT_FOUND
    assert api.patch(f"/automations/{unknown}", {"enabled": False}).json() == NOT_FOUND
    # Not an id: no route (the reference's generic 404).
    assert api.get("/automations/nope").status_code == 404


def test_put_replaces_the_fields_it_names_and_renews_trigger_ids(api: ApiClient) -> None:
    created = create(api, description="kept", actions=[RUN_DEPLOYMENT], actions_on_trigger=[{"type": "do-nothing"}])
    response = api.put(
        f"/automations/{created['id']}", {"name": "renamed", "trigger": {"posture": "Reactive"}, "actions": []}
    )
    assert response.status_code == 204
    replaced = api.get(f"/automations/{created['id']}").json()
    assert (replaced["name"], replaced["description"], replaced["actions"]) == ("renamed", "kept", [])
    assert replaced["actions_on_trigger"] == [{"type": "do-nothing"}]
    assert replaced["trigger"]["expect"] == [] and replaced["trigger"]["id"] != created["trigger"]["id"]
    assert replaced["updated"] > created["updated"] and replaced["created"] == created["created"]


def test_put_validates_like_create_without_an_owner(api: ApiClient) -> None:
    created = create(api)
    extra = api.put(f"/automations/{created['id']}", {**document(), "owner_resource": "x"})
    assert extra.json()["exception_detail"] == [
        {"loc": ["body", "owner_resource"], "msg": "extra fields not permitted", "type": "value_error.extra"}
    ]
    missing = api.put(f"/automations/{created['id']}", {"name": "x"})
    assert missing.json()["exception_detail"] == [
        {"loc": ["body", "trigger"], "msg": "field required", "type": "value_error.missing"},
        {"loc": ["body", "actions"], "msg": "field required", "type": "value_error.missing"},
    ]
    assert api.get(f"/automations/{created['id']}").json() == created


def test_patch_enables_and_disables(api: ApiClient) -> None:
    created = create(api)
    assert api.patch(f"/automations/{created['id']}", {"enabled": False}).status_code == 204
    assert api.get(f"/automations/{created['id']}").json()["enabled"] is False
    # An empty body changes nothing but the update time, as in the reference ...
    assert api.patch(f"/automations/{created['id']}", {}).status_code == 204
    after = api.get(f"/automations/{created['id']}").json()
    assert after["enabled"] is False and after["updated"] > created["updated"]
    assert api.patch(f"/automations/{created['id']}", {"enabled": True}).status_code == 204
    assert api.get(f"/automations/{created['id']}").json()["enabled"] is True


def test_an_empty_patch_checks_the_automation_as_enabled(api: ApiClient) -> None:
    """... whose check reads the body with its default, ``enabled: true``."""
    looping = api.post("/automations/", {"name": "loopy", **LOOPING}).json()
    response = api.patch(f"/automations/{looping['id']}", {})
    assert (response.status_code, response.json()["request_body"]) == (422, {"enabled": True})
    assert api.patch(f"/automations/{looping['id']}", {"enabled": False}).status_code == 204


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "x"}, [{"loc": ["body", "name"], "msg": "extra fields not permitted", "type": "value_error.extra"}]),
        (
            {"enabled": "maybe"},
            [{"loc": ["body", "enabled"], "msg": "value could not be parsed to a boolean", "type": "type_error.bool"}],
        ),
        (
            {"enabled": None},
            [
                {
                    "loc": ["body", "enabled"],
                    "msg": "none is not an allowed value",
                    "type": "type_error.none.not_allowed",
                }
            ],
        ),
    ],
)
def test_patch_bodies_the_reference_refuses(api: ApiClient, body: dict[str, Any], errors: list[Any]) -> None:
    response = api.patch(f"/automations/{create(api)['id']}", body)
    assert response.status_code == 422
    assert response.json() == {
        "exception_message": "Invalid request received.",
        "exception_detail": errors,
        "request_body": body,
    }


def test_enabling_an_automation_that_would_loop_is_refused(api: ApiClient) -> None:
    looping = api.post("/automations/", {"name": "loopy", **LOOPING}).json()
    response = api.patch(f"/automations/{looping['id']}", {"enabled": True})
    assert (response.status_code, response.json()) == (
        422,
        {
            "exception_message": "Invalid request received.",
            "exception_detail": [{"loc": ["automation", "__root__"], "msg": INFERRED_LOOP, "type": "value_error"}],
            "request_body": {"enabled": True},
        },
    )
    assert api.get(f"/automations/{looping['id']}").json()["enabled"] is False


def test_delete(api: ApiClient) -> None:
    created = create(api, actions=[RUN_DEPLOYMENT], owner_resource="prefect.flow.owner")
    assert api.delete(f"/automations/{created['id']}").status_code == 204
    assert api.get(f"/automations/{created['id']}").status_code == 404
    assert api.get(f"/automations/related-to/prefect.deployment.{DEPLOYMENT_ID}").json() == []


def test_filter_sorts_pages_and_filters(api: ApiClient) -> None:
    for name in ("b", "a", "c"):
        create(api, name=name)
    assert names(api.post("/automations/filter", {})) == ["a", "b", "c"]
    assert names(api.post("/automations/filter", {"sort": "NAME_DESC"})) == ["c", "b", "a"]
    assert names(api.post("/automations/filter", {"sort": "CREATED_DESC", "limit": 1, "offset": 1})) == ["a"]
    assert names(api.post("/automations/filter", {"automations": {"name": {"any_": ["a", "c"]}}})) == ["a", "c"]
    before = {"automations": {"created": {"before_": "2000-01-01T00:00:00Z"}}}
    assert names(api.post("/automations/filter", before)) == []
    either = {"automations": {"operator": "or_", "name": {"any_": ["b"]}, **before["automations"]}}
    assert names(api.post("/automations/filter", either)) == ["b"]


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (
            {"sort": "X"},
            {
                "exception_message": "Invalid request received.",
                "exception_detail": [
                    {
                        "loc": ["body", "sort"],
                        "msg": "value is not a valid enumeration member; permitted: 'CREATED_DESC', "
                        "'UPDATED_DESC', 'NAME_ASC', 'NAME_DESC'",
                        "type": "type_error.enum",
                        "ctx": {"enum_values": ["CREATED_DESC", "UPDATED_DESC", "NAME_ASC", "NAME_DESC"]},
                    }
                ],
                "request_body": {"sort": "X"},
            },
        ),
        ({"limit": 1000}, {"detail": "Invalid limit: must be less than or equal to 200."}),
        ({"limit": -1}, {"detail": "Invalid limit: must be greater than or equal to 0."}),
        (
            {"automations": {"bogus": 1}},
            {
                "exception_message": "Invalid request received.",
                "exception_detail": [
                    {
                        "loc": ["body", "automations", "bogus"],
                        "msg": "extra fields not permitted",
                        "type": "value_error.extra",
                    }
                ],
                "request_body": {"automations": {"bogus": 1}},
            },
        ),
    ],
)
def test_filter_bodies_the_reference_refuses(api: ApiClient, body: dict[str, Any], answer: dict[str, Any]) -> None:
    response = api.post("/automations/filter", body)
    assert (response.status_code, response.json()) == (422, answer)


def test_count_counts_every_automation_whatever_the_body(api: ApiClient) -> None:
    create(api, name="a")
    create(api, name="b")
    assert api.post("/automations/count").json() == 2
    assert api.post("/automations/count", {"automations": {"name": {"any_": ["a"]}}}).json() == 2


def test_related_to_and_owned_by(api: ApiClient) -> None:
    owned = create(api, name="owned", actions=[RUN_DEPLOYMENT], owner_resource="prefect.flow.owner")
    other = create(api, name="other", actions=[RUN_DEPLOYMENT, {**RUN_DEPLOYMENT, "parameters": {"a": 1}}])
    create(api, name="inferred", actions=[{"type": "run-deployment", "source": "inferred"}])
    assert names(api.get(f"/automations/related-to/prefect.deployment.{DEPLOYMENT_ID}")) == ["owned", "other"]
    assert names(api.get("/automations/related-to/prefect.flow.owner")) == ["owned"]
    assert names(api.get("/automations/related-to/nothing")) == []
    # Replacing the actions replaces the deployment relations, not the ownership.
    api.put(f"/automations/{owned['id']}", document(name="owned"))
    assert names(api.get(f"/automations/related-to/prefect.deployment.{DEPLOYMENT_ID}")) == ["other"]
    assert names(api.get("/automations/related-to/prefect.flow.owner")) == ["owned"]
    # Only what the resource owns is deleted.
    response = api.delete("/automations/owned-by/prefect.flow.owner")
    assert (response.status_code, response.content) == (202, b"null")
    assert api.get(f"/automations/{owned['id']}").status_code == 404
    assert api.get(f"/automations/{other['id']}").status_code == 200
    assert api.delete(f"/automations/owned-by/prefect.deployment.{DEPLOYMENT_ID}").status_code == 202
    assert api.get(f"/automations/{other['id']}").status_code == 200


def test_automations_are_per_workspace(api: ApiClient, client: Client) -> None:
    Workspace.objects.create(slug="elsewhere")
    created = create(api, owner_resource="prefect.flow.owner")
    other = WorkspaceApi(client, "elsewhere")
    assert other.get(f"/automations/{created['id']}").status_code == 404
    assert other.post("/automations/count").json() == 0
    assert other.get("/automations/related-to/prefect.flow.owner").json() == []
    other.delete("/automations/owned-by/prefect.flow.owner")
    assert api.get(f"/automations/{created['id']}").status_code == 200
