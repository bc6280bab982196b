"""The action documents of an automation, as the 2.20 server accepts and answers them.

Actions that work on a deployment, work queue, work pool or automation take it either
``selected`` (its id given) or ``inferred`` (from the triggering event, no id given).
"""

from __future__ import annotations

from typing import Any

import orjson

from automations_app.schema.model import (
    Field,
    Model,
    constant,
    enumeration,
    json_object,
    one_of,
    string,
    uuid_text,
)
from automations_app.schema.templates import parameters_check, template_field
from runs_app.states import StateType

SOURCE = Field("source", constant("selected", "inferred"), default="selected")


def _type(name: str) -> Field:
    return Field("type", constant(name), default=name)


def _target(key: str) -> tuple[tuple[Field, ...], Any]:
    """The source and target id fields of an action on a ``key`` (``deployment_id``)
    and the rule tying them: a selected target needs its id, an inferred one has none."""

    def selected_needs_id(values: dict[str, Any]) -> dict[str, Any]:
        wants_selected = values.get("source") == "selected"
        has_id = bool(values.get(key))
        if wants_selected != has_id:
            raise ValueError(f"{key} is " + ("not allowed" if has_id else "required"))
        return values

    return (SOURCE, Field(key, uuid_text, nullable=True)), (selected_needs_id, False)


def _targeted(name: str, key: str, *more: Field) -> Model:
    fields, rule = _target(key)
    return Model(name, (_type(ACTION_NAMES[name]), *fields, *more), checks=(rule,))


def _webhook_payload(value: Any) -> Any:
    """Older dashboards send the payload as an object; it is kept as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


ACTION_NAMES = {
    "DoNothing": "do-nothing",
    "RunDeployment": "run-deployment",
    "PauseDeployment": "pause-deployment",
    "ResumeDeployment": "resume-deployment",
    "CancelFlowRun": "cancel-flow-run",
    "ChangeFlowRunState": "change-flow-run-state",
    "PauseWorkQueue": "pause-work-queue",
    "ResumeWorkQueue": "resume-work-queue",
    "SendNotification": "send-notification",
    "CallWebhook": "call-webhook",
    "PauseAutomation": "pause-automation",
    "ResumeAutomation": "resume-automation",
    "SuspendFlowRun": "suspend-flow-run",
    "PauseWorkPool": "pause-work-pool",
    "ResumeWorkPool": "resume-work-pool",
}

# In the reference's order: a document is each of them in turn, the first that fits.
ACTION_MODELS: tuple[Model, ...] = (
    Model("DoNothing", (_type("do-nothing"),)),
    _targeted(
        "RunDeployment",
        "deployment_id",
        Field("parameters", json_object, nullable=True, checks=(parameters_check,)),
        Field("job_variables", json_object, nullable=True),
    ),
    _targeted("PauseDeployment", "deployment_id"),
    _targeted("ResumeDeployment", "deployment_id"),
    Model("CancelFlowRun", (_type("cancel-flow-run"),)),
    Model(
        "ChangeFlowRunState",
        (
            _type("change-flow-run-state"),
            Field("name", string, nullable=True),
            Field("state", enumeration([state.value for state in StateType])),
            Field("message", string, nullable=True),
        ),
    ),
    _targeted("PauseWorkQueue", "work_queue_id"),
    _targeted("ResumeWorkQueue", "work_queue_id"),
    Model(
        "SendNotification",
        (
            _type("send-notification"),
            Field("block_document_id", uuid_text),
            Field("subject", string, default="Prefect automated notification", checks=(template_field("subject"),)),
            Field("body", string, checks=(template_field("body"),)),
        ),
    ),
    Model(
        "CallWebhook",
        (
            _type("call-webhook"),
            Field("block_document_id", uuid_text),
            Field("payload", string, default="", before=_webhook_payload, checks=(template_field("payload"),)),
        ),
    ),
    _targeted("PauseAutomation", "automation_id"),
    _targeted("ResumeAutomation", "automation_id"),
    Model("SuspendFlowRun", (_type("suspend-flow-run"),)),
    _targeted("PauseWorkPool", "work_pool_id"),
    _targeted("ResumeWorkPool", "work_pool_id"),
)

action = one_of(*ACTION_MODELS)
