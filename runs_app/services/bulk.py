"""Bulk actions over the flow runs a filter body matches: preview, set state, delete.

The runs are chosen by the same selector as ``POST /flow_runs/filter`` (one filter
engine, so a preview, a count and the action agree). A state change is proposed to each
run through the orchestration engine's flow-run entry, one short transaction per run, so
the rules, the bookkeeping and the concurrency slots behave exactly as for one
``set_state`` and a client moving the same runs at the same time is serialised by the
run's row lock: every proposal is decided against the state the other wrote.

A body whose filter keys constrain nothing matches every run, which is how an empty or
lost body would read; so acting on every run must be asked for explicitly (``all_runs``,
the API's ``"all": true``), and without it the action is refused before any run is chosen.
A preview only reads, and answers for any filter. Every bulk action reads and acts in
one workspace (``workspace_id``): "every run" is every run of that workspace.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet
from django.utils import timezone

from orion_project.exceptions import ObjectNotFoundError, OrionError
from runs_app.models import FlowRun, FlowRunQuerySet
from runs_app.orchestration.context import ProposedState, SetStateStatus
from runs_app.selectors.runs import flow_runs_matching
from runs_app.services.runs import flow_run_set_state, flow_runs_delete

SAMPLE_SIZE = 20
DEFAULT_BATCH_SIZE = 200
# Past this many runs a bulk request must be split (``limit``); it keeps one HTTP
# request, or one admin action, from running for minutes.
MAX_BULK_RUNS = 10_000


class UnfilteredBulkActionError(OrionError):
    """A bulk action whose filter matches every run, without ``all_runs`` asking for that."""

    def __init__(self) -> None:
        super().__init__(
            "No filter given: this would act on every flow run. Name the runs with at least one "
            "filter key (flow_runs, flows, deployments, task_runs, work_pools, work_pool_queues), "
            'or send "all": true to act on every flow run (up to the limit).'
        )


@dataclass
class BulkResult:
    """Verdicts of a bulk state change (``missing``: deleted before its turn came)."""

    accepted: int = 0
    rejected: int = 0
    aborted: int = 0
    waited: int = 0
    missing: int = 0
    batches: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "aborted": self.aborted,
            "waited": self.waited,
            "missing": self.missing,
        }


def flow_runs_for_filters(filters: Mapping[str, Any], *, workspace_id: int) -> FlowRunQuerySet:
    """The workspace's runs a ``/flow_runs/filter`` body matches, in a stable order (oldest
    expected start first, then id), so a preview's sample is the start of what the action
    does."""
    matching = flow_runs_matching(filters=filters, workspace_id=workspace_id)
    return matching.order_by("expected_start_time", "id")


def flow_runs_preview(
    *, filters: Mapping[str, Any], workspace_id: int, limit: int | None = None
) -> tuple[int, QuerySet[FlowRun]]:
    """How many runs a bulk action would touch (at most ``limit``) and the first 20."""
    runs = flow_runs_for_filters(filters, workspace_id=workspace_id)
    count = runs.count()
    if limit is not None:
        count = min(count, limit)
    sample_size = SAMPLE_SIZE if limit is None else min(SAMPLE_SIZE, limit)
    return count, runs.for_response()[:sample_size]


def _narrows(runs: QuerySet[FlowRun], workspace_id: int) -> bool:
    """Whether ``runs`` are fewer than all of the workspace's by their query: a condition
    besides the workspace's (one that matches nothing, too)."""
    every_run = FlowRun.objects.filter(workspace_id=workspace_id).order_by("expected_start_time", "id")
    try:
        return str(runs.query) != str(every_run.query)
    except EmptyResultSet:
        return True


def _planned_ids(filters: Mapping[str, Any], limit: int | None, all_runs: bool, workspace_id: int) -> list[uuid.UUID]:
    """The runs a bulk action will act on; refused (:class:`UnfilteredBulkActionError`) when
    the filter constrains nothing and ``all_runs`` does not ask for every run: the runs
    chosen are all of the workspace's (the workspace's condition is not one the client
    gave)."""
    runs = flow_runs_for_filters(filters, workspace_id=workspace_id)
    if not all_runs and not _narrows(runs, workspace_id):
        raise UnfilteredBulkActionError()
    return list(runs.values_list("pk", flat=True)[: limit or MAX_BULK_RUNS])


def flow_runs_bulk_set_state(
    *,
    filters: Mapping[str, Any],
    state: Mapping[str, Any],
    workspace_id: int,
    force: bool = False,
    limit: int | None = None,
    all_runs: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[BulkResult], None] | None = None,
) -> BulkResult:
    """Propose ``state`` (``type``, optional ``name``, ``message``) to every matching run.

    The runs are chosen once, up front (at most ``limit``); each then gets a fresh
    proposal stamped at its own time, through the engine, in its own transaction.
    """

    def propose(run_id: uuid.UUID) -> tuple[ProposedState, bool]:
        proposal = ProposedState.make(
            type=state["type"], name=state.get("name"), message=state.get("message"), timestamp=timezone.now()
        )
        return proposal, force

    return flow_runs_bulk_propose(
        filters=filters,
        propose=propose,
        workspace_id=workspace_id,
        limit=limit,
        all_runs=all_runs,
        batch_size=batch_size,
        on_batch=on_batch,
    )


def flow_runs_bulk_propose(
    *,
    filters: Mapping[str, Any],
    propose: Callable[[uuid.UUID], tuple[ProposedState, bool]],
    workspace_id: int,
    limit: int | None = None,
    all_runs: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[BulkResult], None] | None = None,
) -> BulkResult:
    """Give every matching run the proposal ``propose(run_id)`` makes for it (the state,
    and whether it is forced), through the engine, one transaction per run; a run that
    ``propose`` or the engine cannot find (``ObjectNotFoundError``) counts as missing."""
    result = BulkResult()
    ids = _planned_ids(filters, limit, all_runs, workspace_id)
    for start in range(0, len(ids), batch_size):
        for run_id in ids[start : start + batch_size]:
            try:
                proposal, force = propose(run_id)
                verdict = flow_run_set_state(flow_run_id=run_id, state=proposal, force=force, workspace_id=workspace_id)
            except ObjectNotFoundError:
                result.missing += 1
                continue
            if verdict.status == SetStateStatus.ACCEPT:
                result.accepted += 1
            elif verdict.status == SetStateStatus.REJECT:
                result.rejected += 1
            elif verdict.status == SetStateStatus.ABORT:
                result.aborted += 1
            else:
                result.waited += 1
        result.batches += 1
        if on_batch is not None:
            on_batch(result)
    return result


def flow_runs_bulk_delete(
    *,
    filters: Mapping[str, Any],
    workspace_id: int,
    limit: int | None = None,
    all_runs: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete every matching run (chosen once, up front: at most ``limit``) through the one
    delete path, ``batch_size`` runs per transaction; returns how many were deleted."""
    ids = _planned_ids(filters, limit, all_runs, workspace_id)
    if not ids:
        return 0
    deleted = 0

    def progress(counts: Counter[str]) -> None:
        nonlocal deleted
        deleted += counts[FlowRun._meta.label]
        if on_batch is not None:
            on_batch(deleted)

    runs = FlowRun.objects.filter(pk__in=ids)
    flow_runs_delete(runs=runs, workspace_id=workspace_id, batch_size=batch_size, on_batch=progress)
    return deleted
