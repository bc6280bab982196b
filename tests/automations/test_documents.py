"""``POST /automations/`` answers each document as the 2.20 reference does: the stored
shape with every default, and for an invalid one the same 422, error for error (its
unions report what every member found, and the dashboard shows them)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.automations.conftest import REFERENCE_CREATES, document, generated_removed
from tests.helpers import ApiClient


@pytest.mark.parametrize("case", sorted(REFERENCE_CREATES))
def test_create_answers_as_the_reference(api: ApiClient, case: str) -> None:
    recorded = REFERENCE_CREATES[case]
    response = api.post("/automations/", recorded["body"])
    assert response.status_code == recorded["status"]
    assert generated_removed(response.json()) == recorded["answer"]


def _trigger_ids(trigger: dict[str, Any]) -> list[str]:
    return [trigger["id"], *(found for child in trigger.get("triggers", []) for found in _trigger_ids(child))]


def test_every_trigger_gets_a_new_id(api: ApiClient) -> None:
    sent = str(uuid.uuid4())
    child = {"posture": "Reactive", "id": sent}
    created = api.post("/automations/", document(trigger={"type": "sequence", "id": sent, "triggers": [child]}))
    ids = _trigger_ids(created.json()["trigger"])
    assert len(set(ids)) == 2 and sent not in ids
    assert api.get(f"/automations/{created.json()['id']}").json()["trigger"]["id"] == ids[0]


def test_an_invalid_document_writes_nothing(api: ApiClient) -> None:
    assert api.post("/automations/", document(actions=[{"type": "resume-flow-run"}])).status_code == 422
    assert api.post("/automations/count").json() == 0


def test_job_variables_need_an_existing_deployment(api: ApiClient) -> None:
    flow = api.post("/flows/", {"name": "f"}).json()
    deployment = api.post("/deployments/", {"name": "d", "flow_id": flow["id"]}).json()
    action = {"type": "run-deployment", "deployment_id": deployment["id"], "job_variables": {"a": 1}}
    created = api.post("/automations/", document(actions=[action]))
    assert created.status_code == 201
    assert created.json()["actions"][0]["job_variables"] == {"a": 1}
    # An empty object sets no variables: no deployment is looked up on create ...
    missing = {**action, "deployment_id": str(uuid.uuid4()), "job_variables": {}}
    assert api.post("/automations/", document(actions=[missing])).status_code == 201
    # ... but is on replace, as in the reference.
    replaced = api.put(f"/automations/{created.json()['id']}", document(actions=[missing]))
    assert (replaced.status_code, replaced.json()) == (404, {"detail": "Deployment not found."})


def test_a_template_over_the_sandbox_limits_is_refused(api: ApiClient) -> None:
    nested = "{% for a in b %}{% for c in a %}{% for d in c %}{% endfor %}{% endfor %}{% endfor %}"
    action = {"type": "send-notification", "block_document_id": str(uuid.uuid4()), "body": nested}
    response = api.post("/automations/", document(actions=[action]))
    assert response.status_code == 422
    messages = [error["msg"] for error in response.json()["exception_detail"] if error["loc"][-1] == "body"]
    assert messages == [
        "'body' is not a valid template: Contains nested for loops at a depth of 3. "
        "Templates can nest for loops no more than 2 loops deep."
    ]


def test_run_deployment_parameters_placeholders_are_checked(api: ApiClient) -> None:
    parameters = {
        "ok": {"__prefect_kind": "jinja", "template": "{{ event.id }}"},
        "listed": ["{{ broken"],
        "json": {"__prefect_kind": "json", "value": "{nope"},
        "nested": {"inner": {"__prefect_kind": "jinja"}},
    }
    action = {"type": "run-deployment", "deployment_id": str(uuid.uuid4()), "parameters": parameters}
    response = api.post("/automations/", document(actions=[action]))
    problems = [error["msg"] for error in response.json()["exception_detail"] if error["loc"][-1] == "parameters"]
    assert problems == [
        "Invalid parameters: \n"
        "listed[0]: Invalid jinja: unexpected end of template, expected 'end of print statement'.\n"
        "  json: Invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\n"
        "  nested.inner: Missing 'template' key in __prefect object"
    ]
