"""The events the server records about the status of deployments, work queues and work
pools, as the 2.20 server emits them with events on:

* ``prefect.work-pool.{ready,not-ready,paused}``: a pool is created (not-ready, or paused),
  paused or unpaused (ready when a worker is online, else not-ready), gets a heartbeat
  while not ready (ready), or has no online worker left (not-ready, the status service).
  Pools of type ``prefect-agent`` (2.7 agents) have no status and emit nothing.
* ``prefect.work-queue.{ready,not-ready,paused}``: a queue is paused, unpaused (ready if
  polled within the last minute, else not-ready), polled while not ready (ready), or not
  polled for a minute (not-ready, the status service).
* ``prefect.deployment.{ready,not-ready}``: a poll reaches a deployment that was not ready
  (a worker's or agent's poll of its queue, a runner's poll of the deployment), or neither
  it nor its queue was polled for a minute (not-ready, the status service).

Each change and its event are written in one transaction. A status change is a
conditional UPDATE (``announced_status`` still the old one), so of two racing requests
or two service replicas one announces it. ``ORION_EVENTS_EMIT`` off keeps the statuses
and records no event.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from events_app.services.record import emit
from flows_app.models import Deployment, Worker, WorkPool, WorkQueue

READY, NOT_READY, PAUSED = "READY", "NOT_READY", "PAUSED"
AGENT_POOL_TYPE = "prefect-agent"
# A queue or deployment polled within this long is ready; a worker whose heartbeat is
# this recent is online (the API's answers use the same spans, flows_app.selectors).
POLLED_RECENTLY = dt.timedelta(seconds=60)
WORKER_ONLINE = dt.timedelta(seconds=90)
# A pool's status event follows the previous one when that one is this recent.
POOL_FOLLOWS_WITHIN = dt.timedelta(minutes=10)


def _kebab(status: str) -> str:
    return status.lower().replace("_", "-")


def _pool_labels(pool: WorkPool) -> dict[str, str]:
    return {
        "prefect.resource.id": f"prefect.work-pool.{pool.id}",
        "prefect.resource.name": pool.name,
        "prefect.work-pool.type": pool.type,
    }


def _queue_labels(queue: WorkQueue) -> dict[str, str]:
    return {
        "prefect.resource.id": f"prefect.work-queue.{queue.id}",
        "prefect.resource.name": queue.name,
        "prefect.resource.role": "work-queue",
    }


# Work pools ---------------------------------------------------------------------------


def work_pool_created(pool: WorkPool) -> None:
    """A new pool announces its first status. As the reference, that event's id is not
    kept, so the pool's next status event follows nothing."""
    if pool.type == AGENT_POOL_TYPE:
        return
    status = PAUSED if pool.is_paused else NOT_READY
    WorkPool.objects.filter(pk=pool.pk).update(announced_status=status)
    _emit_pool(pool, status, event_id=uuid.uuid4(), follows=None, now=timezone.now())


def work_pool_pause_set(pool: WorkPool) -> None:
    """``is_paused`` was written (even to its old value: the reference announces every
    such write): paused, or ready / not-ready by whether a worker is online."""
    if pool.type == AGENT_POOL_TYPE:
        return
    now = timezone.now()
    if pool.is_paused:
        status = PAUSED
    else:
        online = Worker.objects.filter(work_pool_id=pool.pk, last_heartbeat_time__gte=now - WORKER_ONLINE).exists()
        status = READY if online else NOT_READY
    _set_pool_status(pool, status, now=now)


def work_pool_heartbeat(pool: WorkPool) -> None:
    """A worker's heartbeat makes a not-ready pool ready."""
    if pool.type != AGENT_POOL_TYPE:
        _set_pool_status(pool, READY, now=timezone.now(), only_from=NOT_READY)


def _set_pool_status(pool: WorkPool, status: str, *, now: dt.datetime, only_from: str | None = None) -> bool:
    rows = WorkPool.objects.filter(pk=pool.pk)
    current = rows.values("announced_status", "last_status_event_id", "last_status_at").first()
    if current is None or (only_from is not None and current["announced_status"] != only_from):
        return False
    event_id = uuid.uuid4()
    changed = rows.filter(
        announced_status=current["announced_status"], last_status_event_id=current["last_status_event_id"]
    ).update(announced_status=status, last_status_event_id=event_id, last_status_at=now)
    if not changed:
        return False
    last_at = current["last_status_at"]
    follows = current["last_status_event_id"] if last_at is not None and now - last_at < POOL_FOLLOWS_WITHIN else None
    _emit_pool(pool, status, event_id=event_id, follows=follows, now=now)
    return True


def _emit_pool(
    pool: WorkPool, status: str, *, event_id: uuid.UUID, follows: uuid.UUID | None, now: dt.datetime
) -> None:
    if settings.ORION_EVENTS_EMIT:
        emit(
            workspace_id=pool.workspace_id,
            event=f"prefect.work-pool.{_kebab(status)}",
            resource=_pool_labels(pool),
            occurred=now,
            follows=follows,
            id=event_id,
        )


# Work queues --------------------------------------------------------------------------


def work_queue_pause_set(queue: WorkQueue, *, last_polled: dt.datetime | None) -> None:
    """``is_paused`` was written: paused (unless it already was), or, for a paused queue,
    ready when polled within the last minute, else not-ready."""
    now = timezone.now()
    if queue.is_paused:
        _set_queue_status(queue, PAUSED, now=now, unless=PAUSED)
        return
    polled = last_polled is not None and now - last_polled < POLLED_RECENTLY
    _set_queue_status(queue, READY if polled else NOT_READY, now=now, only_from=PAUSED)


def work_queues_polled(queues: list[WorkQueue], *, workspace_id: int, now: dt.datetime) -> None:
    """A poll makes the not-ready ones of these queues (as the poll read them) ready, and
    the not-ready deployments they serve: one read when nothing changes."""
    for queue in queues:
        if queue.announced_status == NOT_READY:
            with transaction.atomic():
                _set_queue_status(queue, READY, now=now, only_from=NOT_READY)
    deployments = Deployment.objects.filter(
        workspace_id=workspace_id, work_queue_id__in=[queue.id for queue in queues], announced_status=NOT_READY
    )
    _set_deployments_status(deployments, READY, now=now)


def _set_queue_status(
    queue: WorkQueue, status: str, *, now: dt.datetime, only_from: str | None = None, unless: str | None = None
) -> bool:
    rows = WorkQueue.objects.filter(pk=queue.pk)
    if only_from is not None:
        rows = rows.filter(announced_status=only_from)
    if unless is not None:
        rows = rows.exclude(announced_status=unless)
    if not rows.update(announced_status=status):
        return False
    if settings.ORION_EVENTS_EMIT:
        pool = queue.work_pool
        emit(
            workspace_id=queue.workspace_id,
            event=f"prefect.work-queue.{_kebab(status)}",
            resource=_queue_labels(queue),
            related=[{**_pool_labels(pool), "prefect.resource.role": "work-pool"}],
            occurred=now,
        )
    return True


# Deployments --------------------------------------------------------------------------


def deployments_polled(deployment_ids: list[uuid.UUID], *, workspace_id: int, now: dt.datetime) -> None:
    """A runner's poll makes these deployments ready (those that were not)."""
    rows = Deployment.objects.filter(workspace_id=workspace_id, pk__in=deployment_ids, announced_status=NOT_READY)
    _set_deployments_status(rows, READY, now=now)


def _set_deployments_status(deployments: QuerySet[Deployment], status: str, *, now: dt.datetime) -> int:
    old = NOT_READY if status == READY else READY
    changed = 0
    for deployment in deployments.select_related("flow", "work_queue__work_pool"):
        with transaction.atomic():
            changed += _set_deployment_status(deployment, status, old=old, now=now)
    return changed


def _set_deployment_status(deployment: Deployment, status: str, *, old: str, now: dt.datetime) -> bool:
    if not Deployment.objects.filter(pk=deployment.pk, announced_status=old).update(announced_status=status):
        return False
    if settings.ORION_EVENTS_EMIT:
        related = [
            {
                "prefect.resource.id": f"prefect.flow.{deployment.flow_id}",
                "prefect.resource.name": deployment.flow.name,
                "prefect.resource.role": "flow",
            }
        ]
        queue = deployment.work_queue
        if queue is not None:
            related.append(_queue_labels(queue))
            related.append({**_pool_labels(queue.work_pool), "prefect.resource.role": "work-pool"})
        emit(
            workspace_id=deployment.workspace_id,
            event=f"prefect.deployment.{_kebab(status)}",
            resource={
                "prefect.resource.id": f"prefect.deployment.{deployment.id}",
                "prefect.resource.name": deployment.name,
            },
            related=related,
            occurred=now,
        )
    return True


# The status service -------------------------------------------------------------------


def statuses_expire(*, now: dt.datetime | None = None) -> int:
    """Announce not-ready, in every workspace (in the reference's order), the pools with no
    online worker left, the deployments polled once but neither they nor their queue for a
    minute, and the queues not polled for a minute; how many changed. Each change is its own transaction."""
    now = now or timezone.now()
    stale = now - POLLED_RECENTLY
    changed = 0
    pools = (
        WorkPool.objects.filter(announced_status=READY)
        .exclude(type=AGENT_POOL_TYPE)
        .exclude(workers__last_heartbeat_time__gte=now - WORKER_ONLINE)
    )
    for pool in pools:
        with transaction.atomic():
            changed += _set_pool_status(pool, NOT_READY, now=now, only_from=READY)
    deployments = Deployment.objects.filter(announced_status=READY, last_polled__lt=stale).filter(
        Q(work_queue__isnull=True) | Q(work_queue__last_polled__isnull=True) | Q(work_queue__last_polled__lt=stale)
    )
    changed += _set_deployments_status(deployments, NOT_READY, now=now)
    queues = WorkQueue.objects.filter(announced_status=READY).filter(
        Q(last_polled__isnull=True) | Q(last_polled__lt=stale)
    )
    for queue in queues.select_related("work_pool"):
        with transaction.atomic():
            changed += _set_queue_status(queue, NOT_READY, now=now, only_from=READY)
    return changed
