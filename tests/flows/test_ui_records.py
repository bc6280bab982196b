"""Saved searches and notification policies (reference §A.1, §C)."""

from __future__ import annotations

import uuid

from tests.helpers import ApiClient

FILTER = {"object": "flow", "property": "name", "type": "string", "operation": "equals", "value": "etl"}


def test_saved_search_upsert_by_name(api: ApiClient) -> None:
    created = api.put("/saved_searches/", {"name": "mine", "filters": [FILTER]})
    assert created.status_code == 201
    replaced = api.put("/saved_searches/", {"name": "mine", "filters": []})
    assert (replaced.status_code, replaced.json()["id"], replaced.json()["filters"]) == (200, created.json()["id"], [])
    api.put("/saved_searches/", {"name": "another"})
    assert [s["name"] for s in api.post("/saved_searches/filter", {}).json()] == ["another", "mine"]
    assert api.get(f"/saved_searches/{created.json()['id']}").json()["name"] == "mine"
    assert api.put("/saved_searches/", {"name": "x", "filters": [{"object": "flow"}]}).status_code == 422
    assert api.delete(f"/saved_searches/{created.json()['id']}").status_code == 204
    assert api.delete(f"/saved_searches/{created.json()['id']}").status_code == 404


def test_notification_policies(api: ApiClient) -> None:
    body = {
        "state_names": ["Failed"],
        "tags": [],
        "block_document_id": str(uuid.uuid4()),
        "message_template": "{flow_run_name} is {flow_run_state_name}",
    }
    created = api.post("/flow_run_notification_policies/", body)
    assert created.status_code == 201
    policy = created.json()
    assert policy["is_active"] is True
    bad = api.post("/flow_run_notification_policies/", {**body, "message_template": "{nope}"})
    assert bad.status_code == 422
    assert api.patch(f"/flow_run_notification_policies/{policy['id']}", {"is_active": False}).status_code == 204
    # With the body key present but is_active omitted, only inactive policies match (reference default).
    assert (
        len(api.post("/flow_run_notification_policies/filter", {"flow_run_notification_policy_filter": {}}).json()) == 1
    )
    assert len(api.post("/flow_run_notification_policies/filter", {}).json()) == 1
    active = {"flow_run_notification_policy_filter": {"is_active": {"eq_": True}}}
    assert api.post("/flow_run_notification_policies/filter", active).json() == []
    assert api.get(f"/flow_run_notification_policies/{policy['id']}").json()["is_active"] is False
    assert api.delete(f"/flow_run_notification_policies/{policy['id']}").status_code == 204
    assert api.get(f"/flow_run_notification_policies/{policy['id']}").status_code == 404
