"""Reads of automations, always within one workspace."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from automations_app.filters import AUTOMATION_FILTER
from automations_app.models import Automation


def automations_matching(*, filters: Mapping[str, Any] | None, workspace_id: int) -> QuerySet[Automation]:
    """The workspace's automations matching the ``automations`` key of a validated body."""
    rows = Automation.objects.filter(workspace_id=workspace_id)
    return AUTOMATION_FILTER.apply(rows, (filters or {}).get("automations"))


def automations_count(*, workspace_id: int) -> int:
    """How many automations the workspace has (the reference's count takes no filter)."""
    return Automation.objects.filter(workspace_id=workspace_id).count()


def automation_get(*, automation_id: uuid.UUID, workspace_id: int) -> Automation | None:
    return Automation.objects.filter(workspace_id=workspace_id, pk=automation_id).first()


def automations_related_to(*, resource_id: str, workspace_id: int, owned_only: bool = False) -> QuerySet[Automation]:
    """The workspace's automations related to a resource (a deployment they run, the
    resource that owns them); ``owned_only``: those it owns."""
    related = {"related_resources__resource_id": resource_id, "related_resources__workspace_id": workspace_id}
    if owned_only:
        related["related_resources__owned_by_resource"] = True  # type: ignore[assignment]
    return Automation.objects.filter(workspace_id=workspace_id, **related).order_by("created")
