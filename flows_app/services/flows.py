"""Writes to flows. Each function is one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from flows_app.models import Flow, FlowRunNotificationPolicy, SavedSearch, WorkPool
from flows_app.services.work import default_agent_pool, work_queue_get_or_create
from runs_app.models import FlowRun
from runs_app.services.runs import flow_runs_delete


def flow_get_or_create(*, name: str, tags: Sequence[str]) -> tuple[Flow, bool]:
    """Return the flow called ``name``, creating it with ``tags`` if it does not exist.

    An existing flow is returned unchanged (its tags are not updated). Safe under
    concurrent calls: the unique name decides, and the loser reads the winner's row.
    """
    existing = Flow.objects.filter(name=name).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Flow.objects.create(name=name, tags=list(tags)), True
    except IntegrityError:
        return Flow.objects.get(name=name), False


def flow_update(*, flow_id: uuid.UUID, tags: Sequence[str] | None) -> bool:
    """Replace a flow's tags (the only writable field); ``False`` if there is no such flow."""
    changes: dict[str, object] = {"updated": timezone.now()}
    if tags is not None:
        changes["tags"] = list(tags)
    return Flow.objects.filter(pk=flow_id).update(**changes) > 0


def flow_delete(*, flow_id: uuid.UUID) -> bool:
    """Delete a flow with its flow runs (through the one delete path, so their logs and
    artifacts go too) and deployments; ``False`` if there is no such flow."""
    with transaction.atomic():
        flow_runs_delete(runs=FlowRun.objects.filter(flow_id=flow_id))
        deleted, _ = Flow.objects.filter(pk=flow_id).delete()
    return deleted > 0


# ------------------------------------------------------- saved searches and notifications


def saved_search_upsert(*, name: str, filters: list[Any]) -> tuple[SavedSearch, bool]:
    """Create the saved search ``name``, or replace its filters; ``(search, created)``."""
    with transaction.atomic():
        return SavedSearch.objects.select_for_update().update_or_create(name=name, defaults={"filters": filters})


def saved_search_delete(*, saved_search_id: uuid.UUID) -> bool:
    deleted, _ = SavedSearch.objects.filter(pk=saved_search_id).delete()
    return bool(deleted)


def notification_policy_create(*, data: Mapping[str, Any]) -> FlowRunNotificationPolicy:
    return FlowRunNotificationPolicy.objects.create(**data)


def notification_policy_update(*, policy_id: uuid.UUID, changes: Mapping[str, Any]) -> bool:
    """Change the fields given; ``False`` when there is no such policy."""
    return bool(FlowRunNotificationPolicy.objects.filter(pk=policy_id).update(**changes, updated=timezone.now()))


def notification_policy_delete(*, policy_id: uuid.UUID) -> bool:
    deleted, _ = FlowRunNotificationPolicy.objects.filter(pk=policy_id).delete()
    return bool(deleted)


def flows_reset() -> None:
    """Delete flows (with their deployments and runs), pools, saved searches and
    notification policies, and re-create the default agent pool with its queue."""
    flow_runs_delete(runs=FlowRun.objects.all())
    for model in (Flow, WorkPool, SavedSearch, FlowRunNotificationPolicy):
        model.objects.all().delete()
    pool = default_agent_pool()
    queue, _ = work_queue_get_or_create(name="default", work_pool=pool)
    pool.default_queue = queue
    pool.save(update_fields=["default_queue"])
