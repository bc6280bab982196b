"""Writes to work pools, work queues and workers. Each function is one transaction."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from flows_app import events
from flows_app.models import Worker, WorkPool, WorkQueue
from orion_project.exceptions import ConflictError, ForbiddenError, InvalidRequestError
from runs_app.models import FlowRun
from runs_app.selectors.queues import scheduled_runs_for_queues
from runs_app.states import ACTIVE_STATE_TYPES

DEFAULT_AGENT_POOL = "default-agent-pool"
DEFAULT_QUEUE = "default"


def default_agent_pool(*, workspace_id: int) -> WorkPool:
    """The workspace's pool for legacy (2.7) work queues and agents, with its queue
    ``default``, as a new server has them.

    The workspace ``default`` got them from a migration; any other workspace gets them
    the first time something needs them (and any workspace again if someone deleted the
    pool). Safe when two requests race: the pool's unique name decides, and the pool and
    its queue are written in one transaction, so the loser reads both.
    """
    pool = WorkPool.objects.filter(workspace_id=workspace_id, name=DEFAULT_AGENT_POOL).first()
    if pool is not None:
        return pool
    try:
        with transaction.atomic():
            pool = WorkPool.objects.create(
                workspace_id=workspace_id,
                name=DEFAULT_AGENT_POOL,
                type="prefect-agent",
                description="The default pool for agents.",
            )
            _add_default_queue(pool, description="The default queue.")
            return pool
    except IntegrityError:
        return WorkPool.objects.get(workspace_id=workspace_id, name=DEFAULT_AGENT_POOL)


def _add_default_queue(pool: WorkPool, **fields: Any) -> None:
    """Give a new pool its first queue, ``default``, and make it the pool's default."""
    queue = WorkQueue.objects.create(
        workspace_id=pool.workspace_id, work_pool=pool, name=DEFAULT_QUEUE, priority=1, **fields
    )
    pool.default_queue = queue
    pool.save(update_fields=["default_queue"])


def _next_priority(pool: WorkPool) -> int:
    """The priority after the pool's last queue."""
    top = WorkQueue.objects.filter(workspace_id=pool.workspace_id, work_pool=pool).aggregate(top=Max("priority"))
    return (top["top"] or 0) + 1


def work_queue_get_or_create(
    *, workspace_id: int, name: str, work_pool: WorkPool | None = None
) -> tuple[WorkQueue, bool]:
    """The queue ``name`` of ``work_pool`` (default: the workspace's
    ``default-agent-pool``), created with the next priority in the pool when missing.
    Safe when two requests race."""
    pool = work_pool or default_agent_pool(workspace_id=workspace_id)
    same = WorkQueue.objects.filter(workspace_id=workspace_id, work_pool=pool, name=name)
    existing = same.first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            created = WorkQueue.objects.create(
                workspace_id=workspace_id, work_pool=pool, name=name, priority=_next_priority(pool)
            )
            return created, True
    except IntegrityError:
        return same.get(), False


WORK_QUEUE_EXISTS = "A work queue with this name already exists."


def _stored_queue_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields as the row stores them: the legacy tag ``filter`` is JSON, so the UUIDs
    validation made of its ``deployment_ids`` go back to text."""
    stored = dict(fields)
    if stored.get("filter") is not None:
        stored["filter"] = json.loads(json.dumps(stored["filter"], cls=DjangoJSONEncoder))
    return stored


def work_queue_create(*, workspace_id: int, work_pool: WorkPool | None = None, **fields: Any) -> WorkQueue:
    """Create a queue in ``work_pool`` (default: the workspace's ``default-agent-pool``);
    without a priority it goes after the pool's last queue. A taken name is a 409."""
    pool = work_pool or default_agent_pool(workspace_id=workspace_id)
    fields = _stored_queue_fields(fields)
    try:
        with transaction.atomic():
            if fields.get("priority") is None:
                fields["priority"] = _next_priority(pool)
            return WorkQueue.objects.create(workspace_id=workspace_id, work_pool=pool, **fields)
    except IntegrityError:
        raise ConflictError(WORK_QUEUE_EXISTS) from None


def work_queue_update(*, workspace_id: int, queue_id: uuid.UUID, changes: Mapping[str, Any]) -> bool:
    """Write the given fields of a queue; ``False`` if there is none; a taken name is a 409."""
    try:
        with transaction.atomic():
            stored = _stored_queue_fields(changes)
            queues = WorkQueue.objects.filter(workspace_id=workspace_id, pk=queue_id)
            if not queues.update(**stored, updated=timezone.now()):
                return False
            if "is_paused" in changes:
                queue = queues.select_related("work_pool").get()
                events.work_queue_pause_set(queue, last_polled=queue.last_polled)
            return True
    except IntegrityError:
        raise ConflictError(WORK_QUEUE_EXISTS) from None


def work_queue_delete(*, workspace_id: int, queue_id: uuid.UUID) -> bool:
    """Delete a queue (its runs keep running, unlinked)."""
    with transaction.atomic():
        deleted, _ = WorkQueue.objects.filter(workspace_id=workspace_id, pk=queue_id).delete()
    return deleted > 0


def work_queue_mark_polled(*, workspace_id: int, queues: list[WorkQueue], now: dt.datetime) -> None:
    """Record that agents or workers polled these queues just now, and so the deployments
    they serve (which makes those deployments READY)."""
    from flows_app.models import Deployment

    queue_ids = [queue.id for queue in queues]
    WorkQueue.objects.filter(workspace_id=workspace_id, pk__in=queue_ids).update(last_polled=now, updated=now)
    Deployment.objects.filter(workspace_id=workspace_id, work_queue_id__in=queue_ids).update(last_polled=now)
    events.work_queues_polled(queues, workspace_id=workspace_id, now=now)


def work_pool_create(*, workspace_id: int, **fields: Any) -> WorkPool:
    """Create a pool with its ``default`` queue; a name that is empty once quotes and spaces
    are stripped is refused (400, as the reference: no route could name it), "prefect…"
    names are reserved (403), a name taken in the workspace is a 409."""
    if not fields["name"].strip("' \""):
        raise InvalidRequestError("Work pool name cannot be empty.")
    if fields["name"].lower().startswith("prefect"):
        raise ForbiddenError("Work pools starting with 'Prefect' are reserved for internal use.")
    try:
        with transaction.atomic():
            pool = WorkPool.objects.create(workspace_id=workspace_id, **fields)
            _add_default_queue(pool)
            events.work_pool_created(pool)
            return pool
    except IntegrityError:
        raise ConflictError("A work pool with this name already exists.") from None


def work_pool_update(*, workspace_id: int, name: str, changes: Mapping[str, Any]) -> bool:
    """Write the given fields of a pool; ``False`` if there is none."""
    pools = WorkPool.objects.filter(workspace_id=workspace_id, name=name)
    with transaction.atomic():
        if not pools.update(**changes, updated=timezone.now()):
            return False
        if "is_paused" in changes:
            events.work_pool_pause_set(pools.get())
        return True


def work_pool_delete(*, workspace_id: int, name: str) -> bool:
    """Delete a pool with its queues and workers; the default agent pool stays (403)."""
    if name == DEFAULT_AGENT_POOL:
        raise ForbiddenError(f"The {DEFAULT_AGENT_POOL} work pool cannot be deleted.")
    with transaction.atomic():
        deleted, _ = WorkPool.objects.filter(workspace_id=workspace_id, name=name).delete()
    return deleted > 0


def worker_heartbeat(
    *, workspace_id: int, work_pool: WorkPool, name: str, heartbeat_interval_seconds: int | None
) -> None:
    """Record a worker's heartbeat (creating the worker on its first one)."""
    now = timezone.now()
    defaults: dict[str, Any] = {"last_heartbeat_time": now}
    if heartbeat_interval_seconds is not None:
        defaults["heartbeat_interval_seconds"] = heartbeat_interval_seconds
    with transaction.atomic():
        Worker.objects.update_or_create(workspace_id=workspace_id, work_pool=work_pool, name=name, defaults=defaults)
        if work_pool.announced_status == events.NOT_READY:
            events.work_pool_heartbeat(work_pool)


def worker_delete(*, workspace_id: int, work_pool: WorkPool, name: str) -> bool:
    """Forget a worker."""
    with transaction.atomic():
        deleted, _ = Worker.objects.filter(workspace_id=workspace_id, work_pool=work_pool, name=name).delete()
    return deleted > 0


def work_queue_poll(
    *, workspace_id: int, queue: WorkQueue, limit: int, scheduled_before: dt.datetime | None, record_poll: bool
) -> list[FlowRun]:
    """An agent's poll of one queue: its due SCHEDULED runs within its free slots (nothing
    when paused); the poll is recorded unless the dashboard asked (``record_poll``)."""
    picked = scheduled_runs_for_queues(
        [queue], workspace_id=workspace_id, limit=limit, scheduled_before=scheduled_before
    )
    if record_poll:
        work_queue_mark_polled(workspace_id=workspace_id, queues=[queue], now=timezone.now())
    return [run for _, run in picked]


def work_pool_poll(
    *,
    workspace_id: int,
    work_pool: WorkPool,
    work_queue_names: list[str] | None,
    limit: int,
    scheduled_before: dt.datetime | None,
    scheduled_after: dt.datetime | None,
) -> list[tuple[WorkQueue, FlowRun]]:
    """A worker's poll of a pool: due runs of its queues in priority order, as
    ``(queue, run)`` pairs. The queues are marked polled even when the pool is paused
    (nothing is handed out then); the pool's concurrency limit caps the runs handed out
    by its PENDING/RUNNING/CANCELLING runs."""
    queues = list(
        WorkQueue.objects.select_related("work_pool")
        .filter(workspace_id=workspace_id, work_pool=work_pool)
        .order_by("priority", "name")
    )
    if work_queue_names:
        queues = [queue for queue in queues if queue.name in work_queue_names]
    work_queue_mark_polled(workspace_id=workspace_id, queues=queues, now=timezone.now())
    if work_pool.is_paused:
        return []
    if work_pool.concurrency_limit is not None:
        busy = FlowRun.objects.filter(
            workspace_id=workspace_id, work_queue__work_pool=work_pool, state_type__in=list(ACTIVE_STATE_TYPES)
        ).count()
        limit = min(limit, max(work_pool.concurrency_limit - busy, 0))
    return scheduled_runs_for_queues(
        queues,
        workspace_id=workspace_id,
        limit=limit,
        scheduled_before=scheduled_before,
        scheduled_after=scheduled_after,
    )
