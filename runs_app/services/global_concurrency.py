"""Global (v2) concurrency limits: named slot counters shared by every process of a
workspace. Names are per workspace: a limit ``x`` of one workspace never limits another's.

``increment`` takes ``slots`` on every named limit or on none (all-or-nothing), and
``decrement`` gives them back. Both lock the limits' rows (in name order, so two callers
never wait on each other crosswise) and do the arithmetic under the lock, so
``active_slots`` can neither pass the limit nor fall below zero however many callers
race. On SQLite the IMMEDIATE transaction serialises writers instead.

The rules follow the 2.20 reference:

* an unknown name is created as an *inactive* limit (limit 1), which never blocks;
* slots decay at ``slot_decay_per_second`` since the row's last write (a rate limit);
  denied attempts decay at the same rate, or one per average occupancy when the limit
  does not decay;
* a refused increment records the denied slots and answers with the seconds to wait:
  the average occupancy per slot (or ``1 / decay``) times the slots in front;
* ``occupancy_seconds`` reported on release moves ``avg_slot_occupancy_seconds`` as a
  running average over the last ``2 x limit`` releases (at least 0.1 s per slot).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from orion_project.exceptions import INTEGRITY_CONFLICT_DETAIL, ConflictError
from runs_app.models import GlobalConcurrencyLimit
from runs_app.selectors.global_concurrency import global_limits_by_id_or_name

OCCUPANCY_SAMPLES_MULTIPLIER = 2
MINIMUM_OCCUPANCY_SECONDS_PER_SLOT = 0.1
CONCURRENCY = "concurrency"
RATE_LIMIT = "rate_limit"
MODES = (CONCURRENCY, RATE_LIMIT)


class SlotsExceedLimitError(Exception):
    """More slots were asked for than an active limit has (422 ``detail``)."""

    message = "Slots requested is greater than the limit"


class NoDecayForRateLimitError(Exception):
    """``rate_limit`` mode on limits that do not decay (422 ``detail``)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.message = (
            "Only concurrency limits with slot decay can be used for rate limiting. The following limits "
            f"do not have a decay configured: {','.join(names)!r}"
        )
        super().__init__(self.message)


class SlotsDenied(Exception):
    """The slots are not free now; try again after ``retry_after`` seconds (423)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def global_limit_create(*, data: Mapping[str, Any], workspace_id: int) -> GlobalConcurrencyLimit:
    """Create a limit in the workspace; a name taken there is the reference's generic 409."""
    try:
        with transaction.atomic():
            return GlobalConcurrencyLimit.objects.create(**data, workspace_id=workspace_id)
    except IntegrityError:
        raise ConflictError(INTEGRITY_CONFLICT_DETAIL) from None


def global_limit_update(
    *, changes: Mapping[str, Any], workspace_id: int, limit_id: uuid.UUID | None = None, name: str | None = None
) -> bool:
    """Change a limit of the workspace found by id or by name; ``False`` if there is none."""
    rows = global_limits_by_id_or_name(workspace_id=workspace_id, limit_id=limit_id, name=name)
    try:
        with transaction.atomic():
            return rows.update(**changes, updated=timezone.now()) > 0
    except IntegrityError:
        raise ConflictError(INTEGRITY_CONFLICT_DETAIL) from None


def global_limit_delete(*, workspace_id: int, limit_id: uuid.UUID | None = None, name: str | None = None) -> bool:
    """Delete a limit of the workspace by id or by name; ``False`` if there is none."""
    with transaction.atomic():
        deleted, _ = global_limits_by_id_or_name(workspace_id=workspace_id, limit_id=limit_id, name=name).delete()
    return deleted > 0


def _elapsed(limit: GlobalConcurrencyLimit, now: dt.datetime) -> float:
    return max((now - limit.updated).total_seconds(), 0.0)


def active_slots_now(limit: GlobalConcurrencyLimit, now: dt.datetime) -> int:
    """Held slots after the decay since the row's last write."""
    return max(0, limit.active_slots - math.floor(limit.slot_decay_per_second * _elapsed(limit, now)))


def denied_slots_now(limit: GlobalConcurrencyLimit, now: dt.datetime) -> int:
    """Denied slots after their decay (by the slot decay, else one per average occupancy)."""
    if limit.slot_decay_per_second > 0:
        rate = limit.slot_decay_per_second
    else:
        rate = 1.0 / limit.avg_slot_occupancy_seconds if limit.avg_slot_occupancy_seconds else 0.0
    return max(0, limit.denied_slots - math.floor(rate * _elapsed(limit, now)))


def _locked_or_created(names: Sequence[str], workspace_id: int) -> list[GlobalConcurrencyLimit]:
    """The workspace's limits of ``names`` with their rows locked, unknown names created
    inactive.

    Must run inside a transaction. Two callers creating the same name race on the unique
    constraint; the loser reads the winner's row.
    """
    unique = list(dict.fromkeys(names))
    rows = GlobalConcurrencyLimit.objects.select_for_update().filter(workspace_id=workspace_id)
    existing = {limit.name: limit for limit in rows.filter(name__in=unique).order_by("name")}
    for name in sorted(set(unique) - set(existing)):
        try:
            with transaction.atomic():
                existing[name] = GlobalConcurrencyLimit.objects.create(
                    name=name, limit=1, active=False, workspace_id=workspace_id
                )
        except IntegrityError:
            existing[name] = rows.get(name=name)
    return [existing[name] for name in unique]


def global_slots_increment(
    *, names: Sequence[str], slots: int, mode: str = CONCURRENCY, workspace_id: int
) -> list[GlobalConcurrencyLimit]:
    """Take ``slots`` on every active limit of ``names``, or on none.

    Raises :class:`SlotsExceedLimitError` / :class:`NoDecayForRateLimitError` for
    requests that can never succeed, and :class:`SlotsDenied` (after recording the
    denied slots) when the slots are taken now.
    """
    with transaction.atomic():
        limits = _locked_or_created(names, workspace_id)
        active = [limit for limit in limits if limit.active]
        if any(limit.limit < slots for limit in active):
            transaction.set_rollback(True)
            raise SlotsExceedLimitError(SlotsExceedLimitError.message)
        non_decaying = [limit.name for limit in active if limit.slot_decay_per_second == 0.0]
        if mode == RATE_LIMIT and non_decaying:
            transaction.set_rollback(True)
            raise NoDecayForRateLimitError(non_decaying)
        now = timezone.now()
        if all(active_slots_now(limit, now) + slots <= limit.limit for limit in active):
            for limit in active:
                limit.active_slots = active_slots_now(limit, now) + slots
                limit.denied_slots = denied_slots_now(limit, now)
                limit.updated = now
                limit.save(update_fields=["active_slots", "denied_slots", "updated"])
            return limits
        # Refused: the limits created for unknown names are not kept, as in the reference.
        # The wait is estimated from the values read above; the denied slots are then
        # recorded in a transaction of their own.
        denied = SlotsDenied(_retry_after(active, slots))
        transaction.set_rollback(True)
    with transaction.atomic():
        rows = GlobalConcurrencyLimit.objects.select_for_update().filter(
            pk__in=[limit.pk for limit in active], active=True
        )
        now = timezone.now()
        for limit in rows.order_by("name"):
            limit.denied_slots = denied_slots_now(limit, now) + slots
            limit.save(update_fields=["denied_slots", "updated"])
    raise denied


def _retry_after(active: Sequence[GlobalConcurrencyLimit], slots: int) -> float:
    def blocking_slots(limit: GlobalConcurrencyLimit) -> float:
        if limit.slot_decay_per_second > 0.0:
            return float(slots + limit.denied_slots)
        return (slots + limit.denied_slots) / limit.limit if limit.limit else float(slots + limit.denied_slots)

    blocking = max(active, key=blocking_slots)
    per_slot = (
        blocking.avg_slot_occupancy_seconds
        if blocking.slot_decay_per_second == 0.0
        else 1.0 / blocking.slot_decay_per_second
    )
    return per_slot * blocking_slots(blocking)


def global_slots_decrement(
    *, names: Sequence[str], slots: int, occupancy_seconds: float | None = None, workspace_id: int
) -> list[GlobalConcurrencyLimit]:
    """Give back ``slots`` on every active limit of ``names`` in the workspace (never below
    zero) and fold ``occupancy_seconds`` into each limit's average occupancy per slot."""
    with transaction.atomic():
        limits = _locked_or_created(names, workspace_id)
        now = timezone.now()
        for limit in limits:
            if not limit.active:
                continue
            limit.active_slots = max(0, active_slots_now(limit, now) - slots)
            limit.denied_slots = denied_slots_now(limit, now)
            if occupancy_seconds and limit.limit > 0:
                samples = limit.limit * OCCUPANCY_SAMPLES_MULTIPLIER
                per_slot = max(occupancy_seconds / slots, MINIMUM_OCCUPANCY_SECONDS_PER_SLOT)
                limit.avg_slot_occupancy_seconds += per_slot / samples - limit.avg_slot_occupancy_seconds / samples
            limit.updated = now
            limit.save(update_fields=["active_slots", "denied_slots", "avg_slot_occupancy_seconds", "updated"])
    return limits
