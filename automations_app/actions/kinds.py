"""What each action type does, through the same services the API's views call, always in
the action's workspace.

Each function takes the :class:`Invocation`, acts, and adds to it the resources it acted
on (``related``) and what the reference reports (``details``: the status code the
reference's own API call answered, a webhook's answer); it raises :class:`ActionFailed`
with the reference's reason otherwise. Targets are ``selected`` (the id in the action) or
``inferred`` (the first resource of the kind the triggering event names; for flow-run
actions, first the triggering labels' ``prefect.resource.id``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from automations_app.actions import outbound, parameters, templates
from automations_app.actions.invocation import RESOURCE_ID, ActionFailed, Invocation, id_of_kind
from automations_app.models import Automation
from blocks_app.models import BlockDocument
from flows_app.models import Deployment, WorkPool
from flows_app.services.deployments import deployment_create_flow_run, deployment_set_paused
from flows_app.services.work import work_pool_update, work_queue_update
from orion_project.exceptions import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    MissingReferenceError,
    ObjectNotFoundError,
    OrionError,
)
from runs_app.orchestration.context import OrchestrationResult, ProposedState, SetStateStatus
from runs_app.services.runs import flow_run_resume, flow_run_set_state
from runs_app.states import StateName, StateType

# The status the reference's API answers for each domain error, for the failure reason.
_ERROR_STATUS: dict[type[OrionError], int] = {
    ObjectNotFoundError: 404,
    MissingReferenceError: 409,
    ConflictError: 409,
    ForbiddenError: 403,
    InvalidRequestError: 400,
}
SUSPEND_TIMEOUT_SECONDS = 3600


def _unexpected(invocation: Invocation, status: int) -> ActionFailed:
    invocation.details["status_code"] = status
    return ActionFailed(f"Unexpected status from {invocation.action.get('type')} action: {status}")


def _succeeded(invocation: Invocation, status: int) -> None:
    invocation.details["status_code"] = status


def _call(invocation: Invocation, command: Callable[[], Any]) -> Any:
    """Run a service call; a domain error fails the action as the API's status would."""
    try:
        return command()
    except OrionError as exc:
        status = next((code for kind, code in _ERROR_STATUS.items() if isinstance(exc, kind)), 400)
        raise _unexpected(invocation, status) from exc


def _target(invocation: Invocation, kind: str, field: str, noun: str) -> uuid.UUID:
    """The selected id of the action, or the one inferred from the triggering event."""
    if invocation.action.get("source", "selected") == "selected":
        try:
            return uuid.UUID(str(invocation.action.get(field)))
        except ValueError:
            raise ActionFailed(f"No {noun} could be inferred") from None
    if invocation.triggering_event is None:
        raise ActionFailed(f"No event to infer the {noun}")
    found = invocation.inferred_id(kind)
    if found is None:
        raise ActionFailed(f"No {noun} could be inferred")
    return found


# ------------------------------------------------------------------ deployments


def do_nothing(invocation: Invocation) -> None:
    """Nothing: an automation that only records that it fired."""


def run_deployment(invocation: Invocation) -> None:
    """A SCHEDULED run of the deployment now, with the rendered parameters (over the
    deployment's) and the action's job variables; idempotent on the invocation."""
    deployment_id = _target(invocation, "prefect.deployment", "deployment_id", "deployment")
    invocation.relate(f"prefect.deployment.{deployment_id}", "target")
    try:
        values = parameters.render_parameters(invocation.action.get("parameters"), invocation)
    except parameters.HydrationError as exc:
        raise ActionFailed(f"Unable to create flow run from deployment: {exc!r}") from exc
    deployment = Deployment.objects.filter(workspace_id=invocation.workspace_id, pk=deployment_id).first()
    if deployment is None:
        raise _unexpected(invocation, 404)
    now = timezone.now()
    data: dict[str, Any] = {
        "parameters": values,
        "idempotency_key": (
            f"automation {invocation.automation_id}, action {invocation.action_index}, invocation {invocation.id}"
        ),
        "job_variables": invocation.action.get("job_variables"),
    }
    run, created = _call(
        invocation,
        lambda: deployment_create_flow_run(
            workspace_id=invocation.workspace_id,
            deployment=deployment,
            data=data,
            initial_state=ProposedState.make(type=StateType.SCHEDULED, timestamp=now),
        ),
    )
    invocation.relate(f"prefect.flow-run.{run.id}", "flow-run", run.name)
    _succeeded(invocation, 201 if created else 200)


def _switch(
    kind: str, noun: str, write: Callable[[Invocation, uuid.UUID], bool], *, status: int, doc: str
) -> Callable[[Invocation], None]:
    """An action that turns one flag of its selected or inferred target (a deployment, a
    work queue, an automation); ``status`` is what the reference's API call answers."""
    field = f"{noun.replace(' ', '_')}_id"

    def act(invocation: Invocation) -> None:
        target_id = _target(invocation, kind, field, noun)
        invocation.relate(f"{kind}.{target_id}", "target")
        if not _call(invocation, lambda: write(invocation, target_id)):
            raise _unexpected(invocation, 404)
        _succeeded(invocation, status)

    act.__doc__ = doc
    return act


def _deployment_paused(paused: bool) -> Callable[[Invocation], None]:
    def write(invocation: Invocation, deployment_id: uuid.UUID) -> bool:
        return deployment_set_paused(workspace_id=invocation.workspace_id, deployment_id=deployment_id, paused=paused)

    return _switch(
        "prefect.deployment", "deployment", write, status=200, doc=f"{'Pause' if paused else 'Resume'} the deployment."
    )


def _work_queue_paused(paused: bool) -> Callable[[Invocation], None]:
    def write(invocation: Invocation, queue_id: uuid.UUID) -> bool:
        changes = {"is_paused": paused}
        return work_queue_update(workspace_id=invocation.workspace_id, queue_id=queue_id, changes=changes)

    return _switch(
        "prefect.work-queue", "work queue", write, status=204, doc=f"{'Pause' if paused else 'Resume'} the work queue."
    )


def _automation_enabled(enabled: bool) -> Callable[[Invocation], None]:
    def write(invocation: Invocation, automation_id: uuid.UUID) -> bool:
        automations = Automation.objects.filter(workspace_id=invocation.workspace_id, pk=automation_id)
        return automations.update(enabled=enabled, updated=timezone.now()) > 0

    return _switch(
        "prefect.automation",
        "automation",
        write,
        status=204,
        doc=f"{'Resume' if enabled else 'Pause'} the automation (``enabled``).",
    )


# ------------------------------------------------------------------ flow runs


def _flow_run_to_change(invocation: Invocation) -> uuid.UUID:
    labelled = id_of_kind(invocation.triggering_labels.get(RESOURCE_ID, ""), "prefect.flow-run")
    found = labelled or invocation.inferred_id("prefect.flow-run")
    if found is None:
        raise ActionFailed("No flow run could be inferred")
    return found


def _orchestrated(invocation: Invocation, result: OrchestrationResult) -> None:
    _succeeded(invocation, 201 if result.state_written else 200)
    if result.status != SetStateStatus.ACCEPT:
        raise ActionFailed(f"Failed to set state: {result.reason}")


def _flow_run_state(proposal: Callable[[Invocation, dt.datetime], ProposedState]) -> Callable[[Invocation], None]:
    def act(invocation: Invocation) -> None:
        flow_run_id = _flow_run_to_change(invocation)
        invocation.relate(f"prefect.flow-run.{flow_run_id}", "target")
        state = proposal(invocation, timezone.now())
        result = _call(
            invocation,
            lambda: flow_run_set_state(flow_run_id=flow_run_id, workspace_id=invocation.workspace_id, state=state),
        )
        _orchestrated(invocation, result)

    act.__doc__ = proposal.__doc__
    return act


def _changed_state(invocation: Invocation, now: dt.datetime) -> ProposedState:
    """The action's state type, name and message (a default message naming the automation)."""
    message = invocation.action.get("message") or f"State changed by Automation {invocation.automation_id}"
    state_type = str(invocation.action.get("state") or "")
    return ProposedState.make(type=state_type, name=invocation.action.get("name"), message=message, timestamp=now)


def _cancelling(invocation: Invocation, now: dt.datetime) -> ProposedState:
    """CANCELLING, naming the automation."""
    message = f"Cancelled by Automation {invocation.automation_id}"
    return ProposedState.make(type=StateType.CANCELLING, message=message, timestamp=now)


def _suspended(invocation: Invocation, now: dt.datetime) -> ProposedState:
    """PAUSED "Suspended" for an hour, rescheduled when resumed, naming the automation."""
    details = {
        "pause_timeout": (now + dt.timedelta(seconds=SUSPEND_TIMEOUT_SECONDS)).isoformat(),
        "pause_reschedule": True,
        "pause_key": None,
    }
    message = f"Suspended by Automation {invocation.automation_id}"
    return ProposedState.make(
        type=StateType.PAUSED, name=StateName.SUSPENDED, message=message, state_details=details, timestamp=now
    )


def resume_flow_run(invocation: Invocation) -> None:
    """Resume the paused flow run, as ``POST /flow_runs/{id}/resume`` does."""
    flow_run_id = _flow_run_to_change(invocation)
    invocation.relate(f"prefect.flow-run.{flow_run_id}", "target")
    result = _call(invocation, lambda: flow_run_resume(flow_run_id=flow_run_id, workspace_id=invocation.workspace_id))
    _orchestrated(invocation, result)


# ------------------------------------------------------------------ work queues and pools


def _work_pool_paused(paused: bool) -> Callable[[Invocation], None]:
    def act(invocation: Invocation) -> None:
        pool_id = _target(invocation, "prefect.work-pool", "work_pool_id", "work pool")
        pool = WorkPool.objects.filter(workspace_id=invocation.workspace_id, pk=pool_id).first()
        if pool is None:
            raise ActionFailed(f"Work pool {pool_id} not found")
        invocation.relate(f"prefect.work-pool.{pool.id}", "target", pool.name)
        changes = {"is_paused": paused}
        if not work_pool_update(workspace_id=invocation.workspace_id, name=pool.name, changes=changes):
            raise _unexpected(invocation, 404)
        _succeeded(invocation, 204)

    act.__doc__ = f"{'Pause' if paused else 'Resume'} the work pool."
    return act


# ------------------------------------------------------------------ blocks


def _block_document(invocation: Invocation) -> BlockDocument:
    block_id = invocation.action.get("block_document_id")
    try:
        document_id = uuid.UUID(str(block_id))
    except ValueError:
        raise _unexpected(invocation, 404) from None
    documents = BlockDocument.objects.select_related("block_type", "block_schema")
    document = documents.filter(workspace_id=invocation.workspace_id, pk=document_id).first()
    if document is None:
        raise _unexpected(invocation, 404)
    return document


def _relate_block(invocation: Invocation, document: BlockDocument) -> None:
    invocation.relate(f"prefect.block-document.{document.id}", "block", document.name)
    invocation.relate(f"prefect.block-type.{document.block_type.slug}", "block-type")


def call_webhook(invocation: Invocation) -> None:
    """Call the webhook block with the rendered payload; its answer, whatever its status,
    is the result (a network error is retried, then fails)."""
    document = _block_document(invocation)
    if document.block_type.slug != "webhook":
        raise ActionFailed("The referenced block was not a webhook block")
    _relate_block(invocation, document)
    (payload,) = templates.render([str(invocation.action.get("payload") or "")], invocation)
    try:
        invocation.details.update(outbound.call_webhook(document.data or {}, payload))
    except (OSError, ValueError) as exc:
        raise ActionFailed(f"Webhook call failed: {exc!r}", retryable=isinstance(exc, OSError)) from exc


def send_notification(invocation: Invocation) -> None:
    """Send the rendered subject and body through the notification block."""
    document = _block_document(invocation)
    if "notify" not in (document.block_schema.capabilities or []):
        raise ActionFailed("The referenced block was not a notification block")
    _relate_block(invocation, document)
    subject = str(invocation.action.get("subject") or "Prefect automated notification")
    subject, body = templates.render([subject, str(invocation.action.get("body") or "")], invocation)
    outbound.notify(document.block_type.slug, document.data or {}, subject=subject, body=body)


ACTIONS: dict[str, Callable[[Invocation], None]] = {
    "do-nothing": do_nothing,
    "run-deployment": run_deployment,
    "pause-deployment": _deployment_paused(True),
    "resume-deployment": _deployment_paused(False),
    "change-flow-run-state": _flow_run_state(_changed_state),
    "cancel-flow-run": _flow_run_state(_cancelling),
    "suspend-flow-run": _flow_run_state(_suspended),
    "resume-flow-run": resume_flow_run,
    "pause-work-queue": _work_queue_paused(True),
    "resume-work-queue": _work_queue_paused(False),
    "pause-work-pool": _work_pool_paused(True),
    "resume-work-pool": _work_pool_paused(False),
    "pause-automation": _automation_enabled(False),
    "resume-automation": _automation_enabled(True),
    "call-webhook": call_webhook,
    "send-notification": send_notification,
}

# The kinds that run no SQL: on PostgreSQL they need no savepoint of their own (see
# automations_app.actions.runner).
WITHOUT_DATABASE = frozenset({"do-nothing"})
