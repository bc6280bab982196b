"""The one way runs are deleted: :func:`flow_runs_delete` and :func:`task_runs_delete`
(and :func:`purge_workspace_runs`, every run of a workspace, built on them).

Every door that removes runs (``DELETE /flow_runs/{id}`` and ``/task_runs/{id}``, flow and
deployment deletes, bulk delete, retention, the admin's delete and delete action,
``orion_runs delete``) calls these two functions, re-exported by ``runs_app.services.runs``;
``tests/core/test_architecture.py`` keeps other modules from deleting runs themselves.
They lock the runs, delete them with everything that points at them, then take them out
of the history rollup (``runs_app.rollup.writes``), batch by batch, each batch one
transaction (or one savepoint of the caller's).
Each call deletes within one workspace (``workspace_id``): runs of the given queryset in
another workspace are left alone, whatever the queryset says, and so are the rows that
name a deleted run by a bare column but belong to another workspace.

Django's ``QuerySet.delete()`` collects every related row into memory first (the run's
states, its task runs, theirs, ...): fine for one run, far too slow and memory-hungry for
the hundreds of thousands a retention pass removes. Here the same cascade is walked over
the models' relations instead, and each table gets one ``DELETE ... WHERE fk = ANY(ids)``
per batch, by the indexed key that names the parents (see :class:`_Purge`). Because the
walk follows every reverse relation of the models, a model added later with a foreign key to a run, a state or a task run (the 2.20 artifacts, for
instance) is covered without changing this module.

Rows that refer to runs by a bare UUID column instead of a foreign key (logs, the way
the reference stores them) are listed in :data:`SOFT_LINKS`; a model that does so must be
added there (``tests/runs/test_retention.py`` checks every table after a prune).

Foreign keys are deferred on both databases (PostgreSQL ``DEFERRABLE INITIALLY
DEFERRED``, SQLite with ``foreign_keys=ON`` inside a transaction), so the order of the
statements within one transaction does not matter for integrity; every statement of a
batch runs inside the caller's transaction. PostgreSQL checks them one deleted row at a
time, which is most of a batch's cost; a batch that is its own transaction has them
checked before it touches the rollup (``SET CONSTRAINTS ALL IMMEDIATE``), so the rollup
rows a state write also updates are held only by its last statements.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import connections, models, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

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


def _links(model: type[models.Model]) -> Iterator[tuple[Any, models.ForeignObject[Any, Any]]]:
    """The (model, foreign key) pairs pointing at ``model``'s primary key."""
    # ``include_hidden``: links declared with ``related_name="+"`` (a run's current state,
    # the cache's state) are relations all the same.
    for relation in model._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete) or relation.many_to_many:
            continue
        assert isinstance(relation, models.ForeignObjectRel)
        field = relation.field
        if relation.on_delete not in (models.CASCADE, models.SET_NULL, models.DO_NOTHING):
            raise NotImplementedError(
                f"{relation} has on_delete={relation.on_delete!r}; teach runs_app.services.purge about it"
            )
        if not field.target_field.primary_key:
            raise NotImplementedError(
                f"{relation} points at a column other than the key; teach runs_app.services.purge"
            )
        yield relation.related_model, field


def _skipped(related_model: Any, field: models.ForeignObject[Any, Any], doomed: Mapping[Any, object]) -> bool:
    """A link nothing needs doing about: ``DO_NOTHING``, or a run's pointer at one of its own
    states while the run goes too."""
    on_delete = field.remote_field.on_delete
    return on_delete is models.DO_NOTHING or (
        on_delete is models.SET_NULL and related_model in doomed and (related_model, field.name) in OWN_STATE_LINKS
    )


def _count_walk(
    queryset: QuerySet[Any],
    *,
    counts: Counter[str],
    doomed: dict[type[models.Model], QuerySet[Any]],
    workspace_id: int,
) -> None:
    """Count ``queryset`` and everything that cascades from it (what a delete would remove)."""
    model = queryset.model
    doomed = {**doomed, model: queryset}
    for related_model, field in _links(model):
        if field.remote_field.on_delete is models.CASCADE:
            related = related_model._base_manager.filter(**{f"{field.name}__in": queryset.values("pk")})
            _count_walk(related, counts=counts, doomed=doomed, workspace_id=workspace_id)
    for soft_model, column, run_model in SOFT_LINKS:
        if run_model is model:
            linked = soft_model._base_manager.filter(
                **{f"{column}__in": queryset.values("pk")}, workspace_id=workspace_id
            )
            for other_model, other_column, other_run_model in SOFT_LINKS:
                # A log of a task run also names the flow run: count it once.
                if other_model is soft_model and other_column != column and other_run_model in doomed:
                    linked = linked.exclude(**{f"{other_column}__in": doomed[other_run_model].values("pk")})
            counts[_label(soft_model)] += linked.count()
    counts[_label(model)] += queryset.count()


class _Purge:
    """The statements deleting one batch of rows and everything pointing at them, set-based.

    Each level of the cascade is one statement by an indexed key: ``DELETE FROM t WHERE
    fk = ANY(ids)`` with the parents' ids as one array parameter (one JSON text on SQLite).
    Only the ids of rows that have rows of their own to remove (a task run's states, a
    state's cache rows) are read back; the rest (a flow run's states) are deleted by their
    parents' ids without being read.
    """

    def __init__(self, using: str, workspace_id: int, counts: Counter[str]) -> None:
        self.connection = connections[using]
        self.workspace_id = workspace_id
        self.counts = counts

    def rows(self, model: type[models.Model], ids: Sequence[Any]) -> None:
        """Delete the ``model`` rows of primary keys ``ids`` (database values), first what cascades."""
        self._cascade(model, ids, doomed={model: ids})
        self.counts[_label(model)] += self._execute("DELETE FROM {}", model, model._meta.pk.column, ids)

    def _cascade(self, model: type[models.Model], ids: Sequence[Any], doomed: dict[Any, Sequence[Any]]) -> None:
        for related_model, field in _links(model):
            if _skipped(related_model, field, doomed):
                continue
            if field.remote_field.on_delete is models.SET_NULL:
                self._unlink(related_model, field, ids, doomed.get(related_model, ()))
            elif self._has_dependents(related_model, {**doomed, related_model: ()}):
                child_ids = self._ids(related_model, field.column, ids)
                self._cascade(related_model, child_ids, {**doomed, related_model: child_ids})
                self.counts[_label(related_model)] += self._execute(
                    "DELETE FROM {}", related_model, related_model._meta.pk.column, child_ids
                )
            else:
                self.counts[_label(related_model)] += self._execute("DELETE FROM {}", related_model, field.column, ids)
        for soft_model, column, run_model in SOFT_LINKS:
            if run_model is model:
                # Rows a link of the other kind already took are gone and not counted again.
                self.counts[_label(soft_model)] += self._execute("DELETE FROM {}", soft_model, column, ids, scoped=True)

    def _has_dependents(self, model: type[models.Model], doomed: Mapping[Any, object]) -> bool:
        """Whether deleting ``model`` rows needs anything done first (else they go by their parents' ids)."""
        return any(not _skipped(related, field, doomed) for related, field in _links(model)) or any(
            run_model is model for _, _, run_model in SOFT_LINKS
        )

    def _unlink(
        self,
        model: type[models.Model],
        field: models.ForeignObject[Any, Any],
        ids: Sequence[Any],
        kept_out: Sequence[Any],
    ) -> None:
        """``SET NULL`` of ``field`` on the rows naming ``ids``, but not on rows deleted in this batch."""
        column = self.connection.ops.quote_name(field.column)
        template = f"UPDATE {{}} SET {column} = NULL"
        if kept_out:
            where, params = self._in(model._meta.pk.column, kept_out)
            self._execute(template, model, field.column, ids, extra=(f" AND NOT ({where})", params))
        else:
            self._execute(template, model, field.column, ids)

    def _ids(self, model: type[models.Model], column: str, ids: Sequence[Any]) -> list[Any]:
        if not ids:
            return []
        where, params = self._in(column, ids)
        table = self.connection.ops.quote_name(model._meta.db_table)
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {self.connection.ops.quote_name(model._meta.pk.column)} FROM {table} WHERE {where}", params
            )
            return [row[0] for row in cursor.fetchall()]

    def _execute(
        self,
        template: str,
        model: type[models.Model],
        column: str,
        ids: Sequence[Any],
        *,
        scoped: bool = False,
        extra: tuple[str, list[Any]] = ("", []),
    ) -> int:
        """Run ``template`` (its ``{}`` the table) on the rows whose ``column`` is in ``ids``; rows changed."""
        if not ids:
            return 0
        where, params = self._in(column, ids)
        if scoped:
            where += f" AND {self.connection.ops.quote_name('workspace_id')} = %s"
            params.append(self.workspace_id)
        table = self.connection.ops.quote_name(model._meta.db_table)
        with self.connection.cursor() as cursor:
            cursor.execute(f"{template.format(table)} WHERE {where}{extra[0]}", [*params, *extra[1]])
            return cursor.rowcount

    def _in(self, column: str, ids: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` among ``ids`` with the ids as one parameter (no statement of 5,000 placeholders)."""
        name = self.connection.ops.quote_name(column)
        if self.connection.vendor == "postgresql":
            return f"{name} = ANY(%s)", [list(ids)]
        return f"{name} IN (SELECT value FROM json_each(%s))", [json.dumps(list(ids))]


Batcher = Callable[[QuerySet[Any], int], Sequence[Any]]
RunT = TypeVar("RunT", FlowRun, TaskRun)


def _first_ids(runs: QuerySet[Any], size: int) -> list[Any]:
    """The next batch: any ``size`` of the runs still matching (the deleted ones are gone)."""
    return list(runs.order_by().values_list("pk", flat=True)[:size])


def _delete_batch(runs: QuerySet[RunT], ids: Sequence[Any], workspace_id: int, *, check_now: bool) -> Counter[str]:
    """Delete the runs of ``ids`` that still match ``runs``, with every row pointing at them.

    The rows are locked first (and the filter checked again under the lock), so a state
    write racing with the delete either finishes before it or finds the run gone.
    ``check_now`` (PostgreSQL, the batch being the whole transaction): the deferred
    foreign-key checks run before the rollup is touched, so the rollup rows every state
    write of the workspace updates stay locked only for the last statements.
    """
    counts: Counter[str] = Counter()
    model = runs.model
    connection = connections[runs.db]
    if connection.vendor == "postgresql":
        table, pk_column = (connection.ops.quote_name(name) for name in (model._meta.db_table, model._meta.pk.column))
        among = RawSQL(f"{table}.{pk_column} = ANY(%s)", (list(ids),), output_field=models.BooleanField())
        locked = runs.filter(among).order_by().select_for_update(of=("self",))
    else:
        locked = runs.filter(pk__in=list(ids)).order_by()
    with _by_primary_key(connection):
        if model is FlowRun:
            # What the runs added to the history rollup, read under the lock and taken away
            # at the end of the batch, so history from the rollup stays that of the runs.
            values = list(locked.values("pk", *HISTORY_RUN_FIELDS))
            kept = [row["pk"] for row in values]
        else:
            values = []
            kept = list(locked.values_list("pk", flat=True))
    if not kept:
        return counts
    pk = model._meta.pk
    _Purge(runs.db, workspace_id, counts).rows(model, [pk.get_db_prep_value(value, connection) for value in kept])
    if check_now:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    flow_runs_history_forget(values)
    if counts[_label(Artifact)]:
        artifact_collections_repair()
    return counts


@contextmanager
def _by_primary_key(connection: Any) -> Iterator[None]:
    """The batch's runs found by their primary keys. Beside the ids, a retention filter
    (``end_time <= cutoff OR ...``) matches an index range of half the workspace, and
    PostgreSQL would AND a bitmap of that whole range with the ids' one in every batch."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    yield  # on an error the batch's (sub)transaction is rolled back, and the setting with it
    with connection.cursor() as cursor:
        cursor.execute("RESET enable_bitmapscan")


class _BatchSizer:
    """Runs per batch: ``batch_size`` each time, or, with ``seconds``, as many as take about
    that long (starting small, at most ``batch_size``), so each transaction stays short
    however fast the machine and however many rows a run has."""

    START = 1000

    def __init__(self, batch_size: int, seconds: float | None) -> None:
        self.limit = batch_size
        self.seconds = seconds
        self.size = batch_size if seconds is None else min(batch_size, self.START)

    def learn(self, runs: int, elapsed: float) -> None:
        """Size the next batch from one of ``runs`` runs that took ``elapsed`` seconds."""
        if self.seconds is None or runs < self.size:
            return
        wanted = runs * self.seconds / max(elapsed, 1e-3)
        self.size = max(1, min(self.limit, round(min(wanted, 2 * self.size))))


def _runs_delete(
    runs: QuerySet[RunT],
    *,
    workspace_id: int,
    batch_size: int,
    max_runs: int | None,
    next_batch: Batcher | None,
    on_batch: Callable[[Counter[str]], None] | None,
    batch_seconds: float | None = None,
) -> Counter[str]:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    runs = runs.filter(workspace_id=workspace_id)
    label = _label(runs.model)
    picker = next_batch or _first_ids
    connection = connections[runs.db]
    # Only a batch that is its own transaction may change when the constraints are checked.
    check_now = connection.vendor == "postgresql" and not connection.in_atomic_block
    sizer = _BatchSizer(batch_size, batch_seconds)
    total: Counter[str] = Counter()
    while max_runs is None or total[label] < max_runs:
        size = sizer.size if max_runs is None else min(sizer.size, max_runs - total[label])
        started = time.monotonic()
        with transaction.atomic(using=runs.db):
            ids = picker(runs, size)
            if not ids:
                break
            counts = _delete_batch(runs, ids, workspace_id, check_now=check_now)
        sizer.learn(len(ids), time.monotonic() - started)
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
    batch_seconds: float | None = None,
) -> Counter[str]:
    """Delete ``runs`` of the workspace with their states, task runs (and theirs), logs, cache rows, inputs
    and artifacts; rows deleted per model label.

    ``batch_size`` runs per transaction (a savepoint when the caller has one open), until
    none matches or ``max_runs`` are gone; with ``batch_seconds``, batches of at most
    ``batch_size`` runs sized to take about that long. ``next_batch(runs, size)`` picks each batch's ids
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
        batch_seconds=batch_seconds,
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
    _count_walk(runs.filter(workspace_id=workspace_id), counts=counts, doomed={}, workspace_id=workspace_id)
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
            # ``_raw_delete``: the one-statement DELETE Django itself uses for fast deletes.
            rows = model._base_manager.filter(workspace_id=workspace_id)
            counts[_label(model)] += rows._raw_delete(rows.db)  # type: ignore[attr-defined]
    return counts
