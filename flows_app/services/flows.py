"""Writes to flows. Each function is one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from flows_app.models import Flow, FlowRunNotificationPolicy, SavedSearch, WorkPool
from flows_app.services.work import default_agent_pool
from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from runs_app.models import FlowRun
from runs_app.services.runs import flow_runs_delete


def flow_get_or_create(*, workspace_id: int, name: str, tags: Sequence[str]) -> tuple[Flow, bool]:
    """Return the workspace's flow called ``name``, creating it with ``tags`` if it does
    not exist.

    An existing flow is returned unchanged (its tags are not updated). Safe under
    concurrent calls: the name, unique in the workspace, decides, and the loser reads
    the winner's row.
    """
    same = Flow.objects.filter(workspace_id=workspace_id, name=name)
    existing = same.first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Flow.objects.create(workspace_id=workspace_id, name=name, tags=list(tags)), True
    except IntegrityError:
        return same.get(), False


def flow_update(*, workspace_id: int, flow_id: uuid.UUID, tags: Sequence[str] | None) -> bool:
    """Replace a flow's tags (the only writable field); ``False`` if the workspace has no
    such flow."""
    changes: dict[str, object] = {"updated": timezone.now()}
    if tags is not None:
        changes["tags"] = list(tags)
    return Flow.objects.filter(workspace_id=workspace_id, pk=flow_id).update(**changes) > 0


def flow_delete(*, workspace_id: int, flow_id: uuid.UUID) -> bool:
    """Delete a flow with its flow runs (through the one delete path, so their logs and
    artifacts go too) and deployments; ``False`` if the workspace has no such flow."""
    with transaction.atomic():
        flow_runs_delete(runs=FlowRun.objects.filter(flow_id=flow_id), workspace_id=workspace_id)
        deleted, _ = Flow.objects.filter(workspace_id=workspace_id, pk=flow_id).delete()
    return deleted > 0


# ------------------------------------------------------- saved searches and notifications


def saved_search_upsert(*, workspace_id: int, name: str, filters: list[Any]) -> tuple[SavedSearch, bool]:
    """Create the workspace's saved search ``name``, or replace its filters; ``(search, created)``."""
    with transaction.atomic():
        return SavedSearch.objects.select_for_update().update_or_create(
            workspace_id=workspace_id, name=name, defaults={"filters": filters}
        )


def saved_search_delete(*, workspace_id: int, saved_search_id: uuid.UUID) -> bool:
    deleted, _ = SavedSearch.objects.filter(workspace_id=workspace_id, pk=saved_search_id).delete()
    return bool(deleted)


def notification_policy_create(*, workspace_id: int, data: Mapping[str, Any]) -> FlowRunNotificationPolicy:
    """Create a policy of the workspace. Its ``block_document_id`` is stored as given (an
    unknown one is accepted, as ever); the block is to be read through it only within the
    policy's workspace, where another workspace's id names nothing, like an unknown one."""
    return FlowRunNotificationPolicy.objects.create(workspace_id=workspace_id, **data)


def notification_policy_update(*, workspace_id: int, policy_id: uuid.UUID, changes: Mapping[str, Any]) -> bool:
    """Change the fields given; ``False`` when the workspace has no such policy."""
    policies = FlowRunNotificationPolicy.objects.filter(workspace_id=workspace_id, pk=policy_id)
    return bool(policies.update(**changes, updated=timezone.now()))


def notification_policy_delete(*, workspace_id: int, policy_id: uuid.UUID) -> bool:
    deleted, _ = FlowRunNotificationPolicy.objects.filter(workspace_id=workspace_id, pk=policy_id).delete()
    return bool(deleted)


def flows_reset() -> None:
    """Delete flows (with their deployments and runs), pools, saved searches and
    notification policies of every workspace, and re-create the default agent pool with
    its queue in ``default`` (the other workspaces get theirs again when they need it)."""
    for workspace_id in Workspace.objects.values_list("id", flat=True):
        flow_runs_delete(runs=FlowRun.objects.all(), workspace_id=workspace_id)
    for model in (Flow, WorkPool, SavedSearch, FlowRunNotificationPolicy):
        model.objects.all().delete()
    default_agent_pool(workspace_id=DEFAULT_WORKSPACE_ID)
