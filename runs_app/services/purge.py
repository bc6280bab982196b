"""The one way runs are deleted: :func:`flow_runs_delete` and :func:`task_runs_delete`
(and :func:`purge_workspace_runs`, every run of a workspace, built on them).

Every door that removes runs (``DELETE /flow_runs/{id}`` and ``/task_runs/{id}``, flow and
deployment deletes, bulk delete, retention, the admin's delete and delete action,
``orion_runs delete``) calls these two functions, re-exported by ``runs_app.services.runs``;
``tests/core/test_architecture.py`` keeps other modules from deleting runs themselves.
They lock the runs, take deleted flow runs out of the history rollup
(``runs_app.rollup.writes``), then delete them with everything that points at them,
batch by batch, each batch one transaction (or one savepoint of the caller's).
Each call deletes within one workspace (``workspace_id``): runs of the given queryset in
another workspace are left alone, whatever the queryset says, and so are the rows that
name a deleted run by a bare column but belong to another workspace.

Django's ``QuerySet.delete()`` collects every related row into memory first (the run's
states, its task runs, theirs, ...): fine for one run, far too slow and memory-hungry for
the hundreds of thousands a retention pass removes. Here the same cascade is walked over
the models' relations instead, and each table gets one ``DELETE ... WHERE fk IN
(subquery)`` per batch. Because the walk follows every reverse relation of the models, a model added
later with a foreign key to a run, a state or a task run (the 2.20 artifacts, for
instance) is covered without changing this module.

Rows that refer to runs by a bare UUID column instead of a foreign key (logs, the way
the reference stores them) are listed in :data:`SOFT_LINKS`; a model that does so must be
added there (``tests/runs/test_retention.py`` checks every table after a prune).

Foreign keys are deferred on both databases (PostgreSQL ``DEFERRABLE INITIALLY
DEFERRED``, SQLite with ``foreign_keys=ON`` inside a transaction), so the order of the
statements within one transaction does not matter for integrity; every statement of a
batch runs inside the caller's transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connections, models, transaction
from django.db.models import Exists, OuterRef, QuerySet

from runs_app.models import Artifact, FlowRun, FlowRunHistoryBucket, Log, RunStateCount, TaskRun
from runs_app.rollup.writes import RUN_FIELDS as HISTORY_RUN_FIELDS
from runs_app.rollup.writes import flow_runs_history_forget
from runs_app.services.artifacts import artifact_collections_repair

DEFAULT_BATCH_SIZE = 5000

# Columns holding a run id without a foreign key: (model, column, run model).
SOFT_LINKS: tuple[tuple[type[models.Model], str, type[models.Model]], ...] = (
    (Log, "flow_run_id", FlowRun),
    (Log, "task_run_id", TaskRun),
    # The 2.20 reference keeps a deleted run's artifacts; here they go with the run, so
    # retention frees their space and no artifact names a run that is gone.
    (Artifact, "flow_run_id", FlowRun),
    (Artifact, "task_run_id", TaskRun),
)


# A run's pointer at its current state names one of the run's own states, and a run's
# states are only ever deleted with the run: clearing the pointer would be an UPDATE of
# rows about to be deleted (at 5,000,000 task runs, most of a retention batch's time).
# Were another run ever to point at them, the deferred foreign key would fail the batch.
OWN_STATE_LINKS = {(FlowRun, "state"), (TaskRun, "state")}


def _label(model: type[models.Model]) -> str:
    return model._meta.label


def _walk(
    queryset: QuerySet[Any],
    *,
    delete: bool,
    counts: Counter[str],
    doomed: dict[type[models.Model], QuerySet[Any]],
    workspace_id: int,
) -> None:
    """Count (or delete) ``queryset`` and, first, everything that cascades from it.

    ``doomed`` maps the models already being removed higher up the walk to their rows,
    so that a ``SET_NULL`` link from a row that is itself going away is not updated for
    nothing (a run's pointer at its current state, for instance).
    """
    model = queryset.model
    doomed = {**doomed, model: queryset}
    # ``include_hidden``: links declared with ``related_name="+"`` (a run's current state,
    # the cache's state) are relations all the same.
    for relation in model._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete) or relation.many_to_many:
            continue
        assert isinstance(relation, models.ForeignObjectRel)
        field = relation.field
        related_model: Any = relation.related_model
        related = related_model._base_manager.filter(
            **{f"{field.name}__in": queryset.values(field.target_field.attname)}
        )
        on_delete = relation.on_delete
        if on_delete is models.CASCADE:
            _walk(related, delete=delete, counts=counts, doomed=doomed, workspace_id=workspace_id)
        elif on_delete is models.SET_NULL:
            if related_model in doomed:
                if (related_model, field.name) in OWN_STATE_LINKS:
                    continue
                # NOT EXISTS, not NOT IN: PostgreSQL plans ``NOT IN (subquery)`` as a
                # filter over a scan of the whole table.
                doomed_rows = doomed[related_model].filter(pk=OuterRef("pk"))
                related = related.filter(~Exists(doomed_rows))
            if delete:
                related.update(**{field.name: None})
        elif on_delete is not models.DO_NOTHING:
            raise NotImplementedError(f"{relation} has on_delete={on_delete!r}; teach runs_app.services.purge about it")
    for soft_model, column, run_model in SOFT_LINKS:
        if run_model is model:
            linked = soft_model._base_manager.filter(
                **{f"{column}__in": queryset.values("pk")}, workspace_id=workspace_id
            )
            for other_model, other_column, other_run_model in SOFT_LINKS:
                # A log of a task run also names the flow run: count it once.
                if other_model is soft_model and other_column != column and other_run_model in doomed:
                    linked = linked.exclude(**{f"{other_column}__in": doomed[other_run_model].values("pk")})
            _count_or_delete(linked, delete=delete, counts=counts)
    _count_or_delete(queryset, delete=delete, counts=counts)


def _count_or_delete(queryset: QuerySet[Any], *, delete: bool, counts: Counter[str]) -> None:
    if delete:
        # ``_raw_delete`` is the one-statement DELETE Django itself uses for fast deletes;
        # the cascade it would otherwise need is done by ``_walk``.
        counts[_label(queryset.model)] += queryset._raw_delete(queryset.db)  # type: ignore[attr-defined]
    else:
        counts[_label(queryset.model)] += queryset.count()


Batcher = Callable[[QuerySet[Any], int], Sequence[Any]]
RunT = TypeVar("RunT", FlowRun, TaskRun)


def _first_ids(runs: QuerySet[Any], size: int) -> list[Any]:
    """The next batch: any ``size`` of the runs still matching (the deleted ones are gone)."""
    return list(runs.order_by().values_list("pk", flat=True)[:size])


def _delete_batch(runs: QuerySet[RunT], ids: Sequence[Any], workspace_id: int) -> Counter[str]:
    """Delete the runs of ``ids`` that still match ``runs``, with every row pointing at them.

    The rows are locked first (and the filter checked again under the lock), so a state
    write racing with the delete either finishes before it or finds the run gone.
    """
    counts: Counter[str] = Counter()
    model = runs.model
    locked = runs.filter(pk__in=list(ids)).order_by()
    if connections[runs.db].vendor == "postgresql":
        locked = locked.select_for_update(of=("self",))
    if model is FlowRun:
        # What the runs added to the history rollup, read under the lock and taken away
        # in one upsert for the batch, so history from the rollup stays that of the runs.
        values = list(locked.values("pk", *HISTORY_RUN_FIELDS))
        kept = [row["pk"] for row in values]
        flow_runs_history_forget(values)
    else:
        kept = list(locked.values_list("pk", flat=True))
    if not kept:
        return counts
    doomed = model._base_manager.filter(pk__in=kept)
    _walk(doomed, delete=True, counts=counts, doomed={}, workspace_id=workspace_id)
    if counts[_label(Artifact)]:
        artifact_collections_repair()
    return counts


def _runs_delete(
    runs: QuerySet[RunT],
    *,
    workspace_id: int,
    batch_size: int,
    max_runs: int | None,
    next_batch: Batcher | None,
    on_batch: Callable[[Counter[str]], None] | None,
) -> Counter[str]:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    runs = runs.filter(workspace_id=workspace_id)
    label = _label(runs.model)
    picker = next_batch or _first_ids
    total: Counter[str] = Counter()
    while max_runs is None or total[label] < max_runs:
        size = batch_size if max_runs is None else min(batch_size, max_runs - total[label])
        with transaction.atomic():
            ids = picker(runs, size)
            if not ids:
                break
            counts = _delete_batch(runs, ids, workspace_id)
        total.update(counts)
        if on_batch is not None:
            on_batch(counts)
        if not counts[label] and next_batch is None:
            break  # the rows were picked but no longer match: nothing more to do
    return total


def flow_runs_delete(
    *,
    runs: QuerySet[FlowRun],
    workspace_id: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_runs: int | None = None,
    next_batch: Batcher | None = None,
    on_batch: Callable[[Counter[str]], None] | None = None,
) -> Counter[str]:
    """Delete ``runs`` of the workspace with their states, task runs (and theirs), logs, cache rows, inputs
    and artifacts; rows deleted per model label.

    ``batch_size`` runs per transaction (a savepoint when the caller has one open), until
    none matches or ``max_runs`` are gone. ``next_batch(runs, size)`` picks each batch's ids
    (default: any ``size`` matching runs); ``on_batch(counts)`` follows each commit.
    Sub-flow runs of a deleted run are kept; their link to the deleted parent task run is
    cleared.
    """
    return _runs_delete(
        runs,
        workspace_id=workspace_id,
        batch_size=batch_size,
        max_runs=max_runs,
        next_batch=next_batch,
        on_batch=on_batch,
    )


def task_runs_delete(
    *, runs: QuerySet[TaskRun], workspace_id: int, batch_size: int = DEFAULT_BATCH_SIZE
) -> Counter[str]:
    """Delete task runs of the workspace with their states, cache rows, logs and artifacts
    (sub-flow runs they stand for are kept, unlinked); rows deleted per model label."""
    return _runs_delete(
        runs, workspace_id=workspace_id, batch_size=batch_size, max_runs=None, next_batch=None, on_batch=None
    )


def flow_runs_delete_counts(runs: QuerySet[FlowRun], *, workspace_id: int) -> Counter[str]:
    """How many rows per model :func:`flow_runs_delete` would delete (reads only)."""
    counts: Counter[str] = Counter()
    _walk(runs.filter(workspace_id=workspace_id), delete=False, counts=counts, doomed={}, workspace_id=workspace_id)
    return counts


def purge_workspace_runs(*, workspace_id: int, batch_size: int = DEFAULT_BATCH_SIZE) -> Counter[str]:
    """Delete every run of a workspace (what deleting the workspace needs of this app):
    its flow runs and task runs with everything pointing at them, the log lines that name
    no run, and its rows of the history rollup and of the state counts; rows deleted per
    model label. Other workspaces' rows are not read."""
    counts = flow_runs_delete(runs=FlowRun.objects.all(), workspace_id=workspace_id, batch_size=batch_size)
    counts.update(task_runs_delete(runs=TaskRun.objects.all(), workspace_id=workspace_id, batch_size=batch_size))
    with transaction.atomic():
        for model in (Log, FlowRunHistoryBucket, RunStateCount):
            _count_or_delete(model._base_manager.filter(workspace_id=workspace_id), delete=True, counts=counts)
    return counts
