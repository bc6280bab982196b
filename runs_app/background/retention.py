"""Retention: delete finished flow runs older than a cut-off, in short batches.

A finished run is one in a terminal state; its age is counted from its end time (or,
for a run that never started and so has none, from its last state's time). Each batch
is its own short transaction, so the API keeps answering while a prune runs and a
prune that is stopped half-way simply continues where it stopped when run again.
A prune deletes in one workspace; the daily pass prunes every workspace, each by its
own runs, with the same setting.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from orion_project.clock import MAX_DURATION_SECONDS, add_clamped, duration_from_seconds
from orion_project.exceptions import InvalidRequestError
from runs_app.background import workspace_ids
from runs_app.models import FlowRun
from runs_app.services.purge import flow_runs_delete_counts
from runs_app.services.runs import flow_runs_delete
from runs_app.states import TERMINAL_STATE_TYPES, StateType

logger = logging.getLogger("orion.retention")

DEFAULT_BATCH_SIZE = 5000
# Each batch is sized to take about this long (at most the batch size's runs): short
# transactions, whatever the machine and however many task runs and states a run has.
DEFAULT_BATCH_SECONDS = 2.0
_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class RetentionError(InvalidRequestError):
    """A prune request that cannot be served (bad age or state); the message says why."""


def parse_age(text: str) -> dt.timedelta:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"2w"``, ``"45s"`` → a duration; ``"0d"`` is zero."""
    match = _AGE.match(text or "")
    if match is None:
        raise RetentionError(f"Age {text!r} is not a number followed by one of s, m, h, d, w (e.g. 30d).")
    try:
        # int() refuses numbers over 4,300 digits (ValueError), as the bound refuses long ages.
        return duration_from_seconds(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    except ValueError:
        raise RetentionError(
            f"Age {text!r} is longer than any duration (at most {MAX_DURATION_SECONDS:.0f} seconds)."
        ) from None


@dataclass(frozen=True)
class PrunePolicy:
    """Which finished runs a prune deletes."""

    older_than: dt.timedelta
    state_types: frozenset[str] = TERMINAL_STATE_TYPES
    flow_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.state_types) - TERMINAL_STATE_TYPES
        if unknown:
            raise RetentionError(
                f"Only finished runs can be pruned; {', '.join(sorted(unknown))} is not a terminal state "
                f"(use {', '.join(sorted(TERMINAL_STATE_TYPES))})."
            )

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        """The end (or last state) time at or before which a run is old enough."""
        return add_clamped(now, -self.older_than)  # an age past year 1 keeps every run


@dataclass
class PruneResult:
    """What a prune did (or, dry, would do): rows per table and the flow runs left."""

    deleted: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    dry_run: bool = False

    @property
    def flow_runs(self) -> int:
        return self.deleted[FlowRun._meta.label]

    def as_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "flow_runs": self.flow_runs,
            "batches": self.batches,
            "tables": dict(sorted(self.deleted.items())),
        }


def prunable_flow_runs(policy: PrunePolicy, *, now: dt.datetime, workspace_id: int) -> QuerySet[FlowRun]:
    """The workspace's finished flow runs ``policy`` deletes, oldest end first (uses
    ``ix_fr_ws_end_time``); ``flow_names`` name the workspace's flows."""
    cutoff = policy.cutoff(now)
    aged = Q(end_time__lte=cutoff) | Q(end_time__isnull=True, state_timestamp__lte=cutoff)
    runs = FlowRun.objects.filter(aged, workspace_id=workspace_id, state_type__in=sorted(policy.state_types))
    if policy.flow_names:
        runs = runs.filter(flow__name__in=list(policy.flow_names))
    return runs


def flow_runs_prune_count(*, policy: PrunePolicy, workspace_id: int, now: dt.datetime | None = None) -> int:
    """How many flow runs :func:`flow_runs_prune` would delete (one indexed count; the rows
    of other tables are counted by :func:`flow_runs_prune_plan`)."""
    return prunable_flow_runs(policy, now=now or timezone.now(), workspace_id=workspace_id).count()


def flow_runs_prune_plan(*, policy: PrunePolicy, workspace_id: int, now: dt.datetime | None = None) -> PruneResult:
    """Count, per table, what :func:`flow_runs_prune` would delete; deletes nothing."""
    runs = prunable_flow_runs(policy, now=now or timezone.now(), workspace_id=workspace_id)
    return PruneResult(deleted=flow_runs_delete_counts(runs, workspace_id=workspace_id), dry_run=True)


def flow_runs_prune(
    *,
    policy: PrunePolicy,
    workspace_id: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    batch_seconds: float | None = DEFAULT_BATCH_SECONDS,
    max_runs: int | None = None,
    now: dt.datetime | None = None,
    on_batch: Callable[[PruneResult], None] | None = None,
) -> PruneResult:
    """Delete the workspace's runs ``policy`` selects with all their rows, at most ``batch_size``
    runs per transaction (as many as take about ``batch_seconds``; ``None``: always
    ``batch_size``), until none is left (or ``max_runs`` are gone).

    The cut-off is fixed when the prune starts, so runs finishing meanwhile are left for
    the next one. ``on_batch`` is called after each committed batch (progress bars).
    """
    if batch_size < 1:
        raise RetentionError("The batch size must be at least 1.")
    result = PruneResult()

    def progress(counts: Counter[str]) -> None:
        result.deleted.update(counts)
        result.batches += 1
        if on_batch is not None:
            on_batch(result)

    # The cut-off is fixed here: the query below is evaluated again for each batch.
    now = now or timezone.now()
    flow_runs_delete(
        runs=prunable_flow_runs(policy, now=now, workspace_id=workspace_id),
        workspace_id=workspace_id,
        batch_size=batch_size,
        max_runs=max_runs,
        next_batch=_Cursor(policy.cutoff(now)).next_batch,
        on_batch=progress,
        batch_seconds=batch_seconds,
    )
    if result.flow_runs:
        logger.info(
            "Pruned %d flow run(s) of workspace %d in %d batch(es): %s",
            result.flow_runs,
            workspace_id,
            result.batches,
            dict(result.deleted),
        )
    return result


class _Cursor:
    """Where the next batch starts: runs by end time first (keyset on ``ix_fr_ws_end_time``, so
    a batch does not step again over the index entries of the rows deleted before it), then
    the finished runs that never started and have no end time."""

    def __init__(self, cutoff: dt.datetime) -> None:
        self.after: dt.datetime | None = None
        self.ended_done = False
        self.cutoff = cutoff

    def next_batch(self, runs: QuerySet[FlowRun], size: int) -> list[object]:
        if not self.ended_done:
            # The cut-off again as a bound of the index range (in ``runs`` it is one side
            # of an OR): the last batch does not read the newer runs up to the end.
            ended = runs.filter(end_time__isnull=False, end_time__lte=self.cutoff)
            if self.after is not None:
                ended = ended.filter(end_time__gte=self.after)
            rows = list(ended.order_by("end_time").values_list("pk", "end_time")[:size])
            if rows:
                self.after = rows[-1][1]
                return [pk for pk, _ in rows]
            self.ended_done = True
        return list(runs.filter(end_time__isnull=True).values_list("pk", flat=True)[:size])


def state_types_from(names: Iterable[str]) -> frozenset[str]:
    """Comma-list items as state types (``completed`` → ``COMPLETED``); unknown ones refused."""
    types = frozenset(name.strip().upper() for name in names if name.strip())
    unknown = types - set(StateType.values)
    if unknown:
        raise RetentionError(f"Unknown state type(s): {', '.join(sorted(unknown))}.")
    return types or TERMINAL_STATE_TYPES


def retention_service() -> int:
    """The daily retention pass of the services loop: ``ORION_RETENTION_DAYS`` (0 = off),
    the same age in every workspace, each pruned by its own runs."""
    days = settings.ORION_RETENTION_DAYS
    if not days:
        return 0
    policy = PrunePolicy(older_than=dt.timedelta(days=days))
    now = timezone.now()
    return sum(
        flow_runs_prune(policy=policy, workspace_id=workspace_id, now=now).flow_runs for workspace_id in workspace_ids()
    )
