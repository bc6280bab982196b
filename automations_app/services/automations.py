"""Writes to automations. Each function is one transaction that keeps the automation's
related resources (the deployments its actions run, the resource that owns it) with it,
so ``/automations/related-to`` and ``/owned-by`` read what was written."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from automations_app.models import Automation, AutomationRelatedResource
from automations_app.schema import DOCUMENT_FIELDS, DocumentInvalid, check_automation, run_deployment_targets
from automations_app.selectors import automations_related_to
from flows_app.models import Deployment
from orion_project.exceptions import MissingReferenceError

DEPLOYMENT_NOT_FOUND = "Deployment not found."
DEPLOYMENT_PREFIX = "prefect.deployment."


def _check_job_variable_targets(actions: list[dict[str, Any]], *, workspace_id: int, allow_empty: bool) -> None:
    """A run-deployment action that sets job variables names a deployment that exists
    (the reference checks the variables against it; ``allow_empty``: ``{}`` sets none)."""
    for step in actions:
        variables = step.get("job_variables") if step["type"] == "run-deployment" else None
        if not step.get("deployment_id") or variables is None or (allow_empty and variables == {}):
            continue
        if not Deployment.objects.filter(workspace_id=workspace_id, pk=step["deployment_id"]).exists():
            raise MissingReferenceError(DEPLOYMENT_NOT_FOUND)


def _relate_deployments(automation: Automation) -> None:
    """Replace the automation's deployment relations (not ownership) by those its actions name."""
    rows = AutomationRelatedResource.objects.filter(automation=automation)
    rows.filter(resource_id__startswith=DEPLOYMENT_PREFIX, owned_by_resource=False).delete()
    kept = set(rows.values_list("resource_id", flat=True))
    AutomationRelatedResource.objects.bulk_create(
        AutomationRelatedResource(workspace_id=automation.workspace_id, automation=automation, resource_id=resource_id)
        for resource_id in (DEPLOYMENT_PREFIX + target for target in run_deployment_targets(automation.actions))
        if resource_id not in kept
    )


def automation_create(*, document: dict[str, Any], owner_resource: str | None, workspace_id: int) -> Automation:
    """Create an automation from a validated document (``automations_app.schema``),
    owned by ``owner_resource`` if one is named."""
    _check_job_variable_targets(document["actions"], workspace_id=workspace_id, allow_empty=True)
    with transaction.atomic():
        automation = Automation.objects.create(workspace_id=workspace_id, **document)
        _relate_deployments(automation)
        if owner_resource:
            AutomationRelatedResource.objects.update_or_create(
                automation=automation,
                resource_id=owner_resource,
                defaults={"workspace_id": workspace_id, "owned_by_resource": True},
            )
    return automation


def automation_update(*, automation_id: uuid.UUID, changes: dict[str, Any], workspace_id: int) -> bool:
    """Replace the fields a ``PUT`` names; ``False`` if there is no such automation."""
    _check_job_variable_targets(changes.get("actions") or [], workspace_id=workspace_id, allow_empty=False)
    with transaction.atomic():
        automation = Automation.objects.select_for_update().filter(workspace_id=workspace_id, pk=automation_id).first()
        if automation is None:
            return False
        for key, value in changes.items():
            setattr(automation, key, value)
        automation.updated = timezone.now()
        automation.save()
        _relate_deployments(automation)
    return True


def automation_set_enabled(*, automation_id: uuid.UUID, enabled: bool | None, workspace_id: int) -> bool:
    """Enable or disable an automation (``None``: leave it, only touch ``updated``);
    ``False`` if there is none. The whole document is validated again as it would then
    be: enabling one that would loop is refused (:class:`DocumentInvalid`)."""
    with transaction.atomic():
        automation = Automation.objects.select_for_update().filter(workspace_id=workspace_id, pk=automation_id).first()
        if automation is None:
            return False
        document = {key: getattr(automation, key) for key in DOCUMENT_FIELDS}
        check_automation({**document, "enabled": True if enabled is None else enabled})
        if enabled is not None:
            automation.enabled = enabled
        automation.updated = timezone.now()
        automation.save(update_fields=["enabled", "updated"])
    return True


def automation_delete(*, automation_id: uuid.UUID, workspace_id: int) -> bool:
    """Delete an automation (its relations and trigger state go with it)."""
    with transaction.atomic():
        deleted, _ = Automation.objects.filter(workspace_id=workspace_id, pk=automation_id).delete()
    return deleted > 0


def automations_delete_owned_by(*, resource_id: str, workspace_id: int) -> list[uuid.UUID]:
    """Delete the automations a resource owns that exist now (one created meanwhile by
    the owner's next deploy is kept); their ids."""
    with transaction.atomic():
        owned = automations_related_to(resource_id=resource_id, workspace_id=workspace_id, owned_only=True)
        ids = list(owned.filter(created__lte=timezone.now()).values_list("id", flat=True))
        Automation.objects.filter(workspace_id=workspace_id, pk__in=ids).delete()
    return ids


__all__ = ["DocumentInvalid"]
