"""Reads of the 2.20 run records: artifacts and their collections, flow-run input,
global concurrency limits.

Artifacts point at runs by plain id columns, so the run-side filters of a body
(``flow_runs``, ``task_runs``, ``flows``, ``deployments``) become ``EXISTS`` sub-queries
on the runs, as in the reference.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from flows_app.api.filters import DEPLOYMENT_FILTER, FLOW_FILTER
from orion_project.api.filtering import Condition, ObjectFilter, combine
from runs_app.api.filters import FLOW_RUN_FILTER, TASK_RUN_FILTER
from runs_app.filters_220 import ARTIFACT_COLLECTION_FILTER, ARTIFACT_FILTER
from runs_app.models import Artifact, ArtifactCollection, FlowRun, FlowRunInput, GlobalConcurrencyLimit, TaskRun

FilterBody = Mapping[str, Any] | None


def _run_conditions(
    *, flow_runs: FilterBody, task_runs: FilterBody, flows: FilterBody, deployments: FilterBody
) -> list[Condition]:
    conditions: list[Condition] = []
    if flow_runs is not None or flows is not None or deployments is not None:
        runs_condition = combine(
            [
                FLOW_RUN_FILTER.to_q(flow_runs),
                FLOW_FILTER.to_q(flows, "flow__"),
                None
                if deployments is None
                else combine([Q(deployment__isnull=False), DEPLOYMENT_FILTER.to_q(deployments, "deployment__")], "and_"),
            ],
            "and_",
        )
        runs = FlowRun.objects.filter(pk=OuterRef("flow_run_id"))
        conditions.append(Q(Exists(runs if runs_condition is None else runs.filter(runs_condition))))
    if task_runs is not None:
        tasks = TASK_RUN_FILTER.apply(TaskRun.objects.filter(pk=OuterRef("task_run_id")), task_runs)
        conditions.append(Q(Exists(tasks)))
    return conditions


def _matching(
    queryset: QuerySet[Any], spec: ObjectFilter, own: FilterBody, related: Mapping[str, FilterBody]
) -> QuerySet[Any]:
    condition = combine([spec.to_q(own), *_run_conditions(**related)], "and_")
    return queryset if condition is None else queryset.filter(condition)


def artifacts_matching(
    *,
    artifacts: FilterBody = None,
    flow_runs: FilterBody = None,
    task_runs: FilterBody = None,
    flows: FilterBody = None,
    deployments: FilterBody = None,
) -> QuerySet[Artifact]:
    """Artifacts matching every given filter (``/artifacts/filter`` and ``/count``)."""
    related = {"flow_runs": flow_runs, "task_runs": task_runs, "flows": flows, "deployments": deployments}
    return _matching(Artifact.objects.all(), ARTIFACT_FILTER, artifacts, related)


def artifact_collections_matching(
    *,
    artifacts: FilterBody = None,
    flow_runs: FilterBody = None,
    task_runs: FilterBody = None,
    flows: FilterBody = None,
    deployments: FilterBody = None,
) -> QuerySet[ArtifactCollection]:
    """Latest artifacts per key matching every given filter (``/artifacts/latest/...``)."""
    related = {"flow_runs": flow_runs, "task_runs": task_runs, "flows": flows, "deployments": deployments}
    return _matching(ArtifactCollection.objects.all(), ARTIFACT_COLLECTION_FILTER, artifacts, related)


def artifact_get(*, artifact_id: uuid.UUID) -> Artifact | None:
    return Artifact.objects.filter(pk=artifact_id).first()


def artifact_latest(*, key: str) -> ArtifactCollection | None:
    """The collection row of a key (the reference answers it in the artifact's shape)."""
    return ArtifactCollection.objects.filter(key=key).first()


def flow_run_input_get(*, flow_run_id: uuid.UUID, key: str) -> FlowRunInput | None:
    return FlowRunInput.objects.filter(flow_run_id=flow_run_id, key=key).first()


def flow_run_inputs_with_prefix(
    *, flow_run_id: uuid.UUID, prefix: str, limit: int, exclude_keys: Sequence[str] = ()
) -> QuerySet[FlowRunInput]:
    """A flow run's inputs whose key starts with ``prefix``, oldest first (``receive_input``)."""
    rows = FlowRunInput.objects.filter(flow_run_id=flow_run_id, key__startswith=prefix)
    if exclude_keys:
        rows = rows.exclude(key__in=list(exclude_keys))
    return rows.order_by("created")[:limit]


def global_limit_get(*, limit_id: uuid.UUID | None = None, name: str | None = None) -> GlobalConcurrencyLimit | None:
    """One global limit by id or by name (as stored: decay is applied on the next write)."""
    rows = GlobalConcurrencyLimit.objects.filter(pk=limit_id) if limit_id is not None else GlobalConcurrencyLimit.objects.filter(name=name)
    return rows.first()
