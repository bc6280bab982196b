"""Delete flow runs with everything that points at them, in plain set-based statements.

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
from typing import Any

from django.db import models
from django.db.models import QuerySet

from runs_app.models import FlowRun, Log, TaskRun

# Columns holding a run id without a foreign key: (model, column, run model).
SOFT_LINKS: tuple[tuple[type[models.Model], str, type[models.Model]], ...] = (
    (Log, "flow_run_id", FlowRun),
    (Log, "task_run_id", TaskRun),
)


def _label(model: type[models.Model]) -> str:
    return model._meta.label


def _walk(
    queryset: QuerySet[Any], *, delete: bool, counts: Counter[str], doomed: dict[type[models.Model], QuerySet[Any]]
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
            _walk(related, delete=delete, counts=counts, doomed=doomed)
        elif on_delete is models.SET_NULL:
            if related_model in doomed:
                related = related.exclude(pk__in=doomed[related_model].values("pk"))
            if delete:
                related.update(**{field.name: None})
        elif on_delete is not models.DO_NOTHING:
            raise NotImplementedError(f"{relation} has on_delete={on_delete!r}; teach runs_app.purge about it")
    for soft_model, column, run_model in SOFT_LINKS:
        if run_model is model:
            linked = soft_model._base_manager.filter(**{f"{column}__in": queryset.values("pk")})
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


def flow_runs_purge(runs: QuerySet[FlowRun]) -> Counter[str]:
    """Delete ``runs`` and every row that points at them; rows deleted per model label.

    Call it inside a transaction. Sub-flow runs of a deleted run are kept; their link to
    the deleted parent task run is cleared.
    """
    counts: Counter[str] = Counter()
    _walk(runs, delete=True, counts=counts, doomed={})
    return counts


def flow_runs_purge_counts(runs: QuerySet[FlowRun]) -> Counter[str]:
    """How many rows per model :func:`flow_runs_purge` would delete (reads only)."""
    counts: Counter[str] = Counter()
    _walk(runs, delete=False, counts=counts, doomed={})
    return counts
