"""Reads of the hourly history rollup: which filter bodies it can answer, and its rows for them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Q,
    QuerySet,
)

from orion_project.filtering import Condition, narrowed
from runs_app.filters import FLOW_RUN_FILTER, RELATED_RUN_AND_WORK_FILTERS
from runs_app.models import FlowRun, FlowRunHistoryBucket
from runs_app.rollup.writes import ALL_FLOWS, ALL_FLOWS_BY_MINUTE, ALL_HOURS, WORKSPACE_SUMS


@dataclass(frozen=True)
class RollupScope:
    """What of a filter body the history rollup can answer: the flows (``None``: every
    flow, i.e. the workspace's all-flows rows) and a condition on ``state_type`` /
    ``state_name``, columns the rollup rows share with the runs."""

    flow_ids: list[Any] | None
    states: Condition


def _given(body: Any) -> dict[str, Any]:
    return {key: value for key, value in (body or {}).items() if value is not None}


def rollup_scope(filters: Mapping[str, Any]) -> RollupScope | None:
    """The rollup's reading of a validated filter body, or ``None`` when it has no column
    for one of its conditions (the runs must be read). It reads nothing: the workspace is
    given to :func:`rollup_rows`, which does.

    It can answer no filter at all, ``flows: {id: {any_: [...]}}`` and ``flow_runs:
    {state: {type: {any_}, name: {any_}}}``, alone or together.
    """
    given = {key: filters.get(key) for key in RELATED_RUN_AND_WORK_FILTERS if filters.get(key) is not None}
    if set(given) - {"flows", "flow_runs"}:
        return None
    flow_ids: list[Any] | None = None
    if "flows" in given:
        flows = _given(given["flows"])
        ids = _given(flows.get("id"))
        if set(flows) - {"id", "operator"} or set(ids) != {"any_"}:
            return None
        flow_ids = list(ids["any_"])
    flow_runs = _given(given.get("flow_runs"))
    state = _given(flow_runs.get("state"))
    if set(flow_runs) - {"state", "operator"} or set(state) - {"type", "name", "operator"}:
        return None
    # A run without a state name is summed under "" in the rollup; the runs never match "".
    if "" in (_given(state.get("name")).get("any_") or ()):
        return None
    return RollupScope(flow_ids, FLOW_RUN_FILTER.to_q(flow_runs))


def rollup_rows(scope: RollupScope, *, workspace_id: int) -> QuerySet[Any]:
    """The workspace's rollup rows in ``scope``: its all-flows rows, or the given flows'
    rows (a flow id of another workspace has none here)."""
    rows = FlowRunHistoryBucket.objects.filter(workspace_id=workspace_id)
    if scope.flow_ids is None:
        rows = rows.filter(flow_id=ALL_FLOWS)
    else:  # WORKSPACE_SUMS name the workspace's sums, never a flow a client may ask for
        rows = rows.filter(flow_id__in=scope.flow_ids).exclude(flow_id__in=WORKSPACE_SUMS)
    return narrowed(rows, [scope.states])


def rollup_minute_rows(scope: RollupScope, *, workspace_id: int) -> QuerySet[Any] | None:
    """The workspace's all-flows rows per minute in ``scope``; ``None`` for a scope of
    given flows (the rollup keeps minutes for all flows only: one flow's runs of a part
    of an hour are few)."""
    if scope.flow_ids is not None:
        return None
    rows = FlowRunHistoryBucket.objects.filter(workspace_id=workspace_id, flow_id=ALL_FLOWS_BY_MINUTE)
    return narrowed(rows, [scope.states])


def rollup_totals(scope: RollupScope, *, workspace_id: int) -> QuerySet[Any]:
    """The workspace's rollup rows in ``scope`` summed over every hour: its all-hours rows
    (one per state, however long the history), or the given flows' rows."""
    if scope.flow_ids is not None:
        return rollup_rows(scope, workspace_id=workspace_id)
    rows = FlowRunHistoryBucket.objects.filter(workspace_id=workspace_id, flow_id=ALL_HOURS)
    return narrowed(rows, [scope.states])


# The runs the rollup does not hold.
NOT_IN_ROLLUP = Q(expected_start_time__isnull=True) | Q(state_type__isnull=True)


def outside_rollup(runs: QuerySet[FlowRun], *, workspace_id: int) -> QuerySet[FlowRun]:
    """Of ``runs``, those of the workspace the rollup does not hold (no state or no
    expected start: a run before its first state write); a few at most, found through
    two indexes."""
    return runs.filter(NOT_IN_ROLLUP, workspace_id=workspace_id)
