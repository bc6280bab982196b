"""Writes to work pools, work queues and workers. Each function is one transaction."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Max

from flows_app.models import WorkPool, WorkQueue

DEFAULT_AGENT_POOL = "default-agent-pool"


def default_agent_pool() -> WorkPool:
    """The pool legacy (2.7) work queues and agents use; seeded by migration, recreated if
    someone deleted it."""
    pool, _ = WorkPool.objects.get_or_create(name=DEFAULT_AGENT_POOL, defaults={"type": "prefect-agent"})
    return pool


def work_queue_get_or_create(*, name: str, work_pool: WorkPool | None = None) -> tuple[WorkQueue, bool]:
    """The queue ``name`` of ``work_pool`` (default: ``default-agent-pool``), created with
    the next priority in the pool when missing. Safe when two requests race."""
    pool = work_pool or default_agent_pool()
    existing = WorkQueue.objects.filter(work_pool=pool, name=name).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            top = WorkQueue.objects.filter(work_pool=pool).aggregate(top=Max("priority"))["top"] or 0
            return WorkQueue.objects.create(work_pool=pool, name=name, priority=top + 1), True
    except IntegrityError:
        return WorkQueue.objects.get(work_pool=pool, name=name), False
