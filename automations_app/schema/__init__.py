"""Automation documents: what ``POST /automations/``, ``PUT`` and ``PATCH`` accept, and
the one shape they are stored and answered in (every default filled in, windows in
seconds, every trigger with a fresh ``id``). The trigger evaluator and the action runner
read the stored documents, so this module is the one definition of a trigger and an
action.

Validation answers what the 2.20 server answers, error for error (see
:mod:`automations_app.schema.model`); an invalid document raises :class:`DocumentInvalid`
whose ``errors`` are located relative to the body.
"""

from __future__ import annotations

from typing import Any

from automations_app.schema.actions import ACTION_MODELS, ACTION_NAMES, action
from automations_app.schema.model import Field, Invalid, Model, boolean, list_of, string
from automations_app.schema.templates import TemplateProblem, check_template
from automations_app.schema.triggers import (
    COMPOUND_TRIGGER,
    EVENT_TRIGGER,
    REACTIVE,
    SEQUENCE_TRIGGER,
    TRIGGER,
    all_triggers,
    matches_every_resource_of_kind,
    reset_ids,
    trigger_json,
)

DocumentInvalid = Invalid

# The fields an automation is stored with, in the order the API answers them.
DOCUMENT_FIELDS = ("name", "description", "enabled", "trigger", "actions", "actions_on_trigger", "actions_on_resolve")

# Flow-run events every run of a deployment produces: an automation running a deployment
# on one of them can start runs that fire it again.
_LOOPING_EVENTS = frozenset(
    {"prefect.flow-run.Scheduled", "prefect.flow-run.Pending", "prefect.flow-run.Running", "prefect.flow-run.*"}
)
INFERRED_LOOP = (
    "Running an inferred deployment from a flow run state change event will lead to an infinite loop of flow "
    "runs.  Please choose a specific deployment and add additional filtering labels to the match or "
    "match_related for this automation's trigger."
)
SELECTED_LOOP = (
    "Running a selected deployment from a flow run state change event may lead to an infinite loop of flow "
    "runs.  Please include additional filtering labels on either match or match_related to narrow down which "
    "flow runs will trigger this automation to exclude flow runs from the deployment you've selected."
)


def _no_run_deployment_loops(values: dict[str, Any]) -> dict[str, Any]:
    """Refuse an enabled reactive automation that runs a deployment on the flow-run
    events its own runs emit, unless its trigger narrows which flow runs it follows."""
    if any(values.get(key) is None for key in ("enabled", "trigger", "actions")) or not values["enabled"]:
        return values
    trigger = values["trigger"]
    if trigger.get("type") != "event" or trigger.get("posture") != REACTIVE:
        return values
    expect = set(trigger["expect"])
    if not any(name.startswith("prefect.flow-run.") for name in expect) or not _LOOPING_EVENTS & expect:
        return values
    for step in values["actions"]:
        if step["type"] != "run-deployment":
            continue
        if step["source"] == "inferred":
            raise ValueError(INFERRED_LOOP)
        if matches_every_resource_of_kind(trigger["match"], "prefect.flow-run") and matches_every_resource_of_kind(
            trigger["match_related"], "prefect.flow-run"
        ):
            raise ValueError(SELECTED_LOOP)
    return values


_ACTIONS = list_of(action)
_CORE = (
    Field("name", string),
    Field("description", string, default=""),
    Field("enabled", boolean, default=True),
    Field("trigger", TRIGGER),
    Field("actions", _ACTIONS),
    Field("actions_on_trigger", _ACTIONS, default=list),
    Field("actions_on_resolve", _ACTIONS, default=list),
)
_CHECKS = ((_no_run_deployment_loops, False),)
AUTOMATION = Model("AutomationCore", _CORE, checks=_CHECKS)
AUTOMATION_CREATE = Model(
    "AutomationCreate", (*_CORE, Field("owner_resource", string, nullable=True)), forbid_extra=True, checks=_CHECKS
)
AUTOMATION_UPDATE = Model("AutomationUpdate", _CORE, forbid_extra=True, checks=_CHECKS)
AUTOMATION_PARTIAL_UPDATE = Model(
    "AutomationPartialUpdate", (Field("enabled", boolean, default=True),), forbid_extra=True
)


def _stored(values: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """The fields of a validated document the client sent, in the stored shape, the
    trigger with fresh ids."""
    document = {key: values[key] for key in DOCUMENT_FIELDS if key in sent}
    if "trigger" in document:
        document["trigger"] = trigger_json(document["trigger"])
        reset_ids(document["trigger"])
    return document


def parse_automation_create(data: Any) -> tuple[dict[str, Any], str | None]:
    """A new automation's stored fields (all of them, defaults filled in) and the
    resource that owns it, if one was named."""
    values = AUTOMATION_CREATE(data, ())
    return _stored(values, dict.fromkeys(DOCUMENT_FIELDS)), values["owner_resource"]


def parse_automation_update(data: Any) -> dict[str, Any]:
    """The stored fields a ``PUT`` replaces: those the body names (the reference leaves
    the others as they were)."""
    values = AUTOMATION_UPDATE(data, ())
    return _stored(values, data)


def parse_automation_partial_update(data: Any) -> bool | None:
    """The body of ``PATCH``: ``enabled``, or ``None`` when the body does not name it
    (nothing changes then, but the automation is checked as if enabled, as the reference
    checks it with the field's default)."""
    values = AUTOMATION_PARTIAL_UPDATE(data, ())
    return values["enabled"] if "enabled" in data else None


def check_automation(document: dict[str, Any]) -> None:
    """Re-validate a whole stored document after a partial change (enabling an
    automation may make it one that loops)."""
    AUTOMATION(document, ())


def run_deployment_targets(actions: list[dict[str, Any]]) -> list[str]:
    """The deployments an automation's actions run by id: the resources it relates to."""
    ids = (step["deployment_id"] for step in actions if step["type"] == "run-deployment")
    return sorted({deployment_id for deployment_id in ids if deployment_id})


def openapi_components() -> dict[str, dict[str, Any]]:
    """The OpenAPI schemas of the documents, by component name."""
    models = (
        AUTOMATION_CREATE,
        AUTOMATION_UPDATE,
        AUTOMATION_PARTIAL_UPDATE,
        EVENT_TRIGGER,
        COMPOUND_TRIGGER,
        SEQUENCE_TRIGGER,
        *ACTION_MODELS,
    )
    return {model.name: model.component() for model in models}


__all__ = [
    "ACTION_NAMES",
    "DOCUMENT_FIELDS",
    "DocumentInvalid",
    "TemplateProblem",
    "all_triggers",
    "check_automation",
    "check_template",
    "openapi_components",
    "parse_automation_create",
    "parse_automation_partial_update",
    "parse_automation_update",
    "run_deployment_targets",
]
