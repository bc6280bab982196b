"""The read layer's compiled statements: one registry of the queries compiled once, run many times.

* Reads by primary key (:func:`by_id`): the read routes of every resource and the
  orchestration engine's row lock and state read. One :class:`ByPrimaryKey` per model,
  lock and joins, whoever asks.
* Statements built from a filter body (:class:`PageByBody`, :class:`ValueByBody`,
  :class:`RowsByBody`): a list route's page, a count, the value rows of
  ``/api/metrics``. One :class:`StatementsByBody` cache holds them all, one per body's
  shape when its datetimes can be parameters (:mod:`orion_project.body_times`).

Compiling a queryset (building its ``Query``, resolving its joins, writing its SQL) costs
more than running the SQL for the small reads the API answers most, and the queryset is
the same for every request but for its parameters (``docs/performance.md``, "Compiled
statements"). What keeps a cached statement right is the rule that it is built from its
key alone: the model, lock and joins of a by-id read; the body of a by-body statement,
with no clock and no database read while it is built. ``tests/core/test_prepared_rule.py``
builds every registered by-body statement twice under two clocks with the database shut.

:class:`CompiledQuery` runs the compiled SQL and turns rows into model instances the way
Django's ``ModelIterable`` (5.2) does; its own test: ``tests/core/test_prepared_query.py``.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connection, connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]

from orion_project import body_times, generic_plan
from orion_project.compiled import CompiledRows, compile_queryset, converted, save_columns, save_values

M = TypeVar("M", bound=Model)
T = TypeVar("T")

# Any fixed id serves to compile the query; its position among the parameters is then
# replaced by the real one.
_PLACEHOLDER = uuid.UUID("00000000-0000-4000-8000-00000000c0de")


def is_tenant_model(model: type[Model]) -> bool:
    """Whether ``model``'s rows belong to a workspace (a ``workspace_id`` column): every
    read of them must say which workspace it reads."""
    tenant = _TENANT_MODELS.get(model)
    if tenant is None:
        tenant = _TENANT_MODELS[model] = any(field.attname == "workspace_id" for field in model._meta.concrete_fields)
    return tenant


_TENANT_MODELS: dict[type[Model], bool] = {}


@dataclass(frozen=True)
class CompiledQuery(Generic[M]):
    """A model queryset's SQL and its row -> instance machinery, compiled for one
    database alias; :meth:`instances` runs it again whenever asked.

    It keeps what running needs and not Django's compiler, which holds the whole query
    and would make each kept page several times larger.
    """

    model: type[M]
    alias: str
    sql: str
    params: tuple[Any, ...]
    converters: list[tuple[int, tuple[list[Any], Any]]]
    init_list: list[str]
    model_slice: slice
    related_populators: list[Any]

    @staticmethod
    def supports(queryset: QuerySet[Any]) -> bool:
        """Whether ``queryset`` is of the plain kind this class can run: a model query
        with filters, joins, ``select_related``, ``only``, order and slice."""
        query = queryset.query
        return not (
            queryset._prefetch_related_lookups  # type: ignore[attr-defined]
            or query.annotations
            or query.distinct
            or query.extra
            or query.combinator
        )

    @classmethod
    def of(cls, queryset: QuerySet[M], alias: str | None = None) -> CompiledQuery[M] | None:
        """``queryset`` compiled; ``None`` when Django proves it matches nothing (an
        empty ``IN``)."""
        assert cls.supports(queryset), "prefetch_related, annotations, DISTINCT and unions are not supported"
        alias = alias or queryset.db
        compiled = compile_queryset(queryset, alias)
        if compiled is None:
            return None
        compiler, sql, params = compiled
        assert not compiler.annotation_col_map, "annotations are not supported"
        select, klass_info = compiler.select, compiler.klass_info
        fields = [column[0] for column in select[: compiler.col_count]]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return cls(
            model=queryset.model,
            alias=alias,
            sql=sql,
            params=tuple(params),
            converters=list(compiler.get_converters(fields).items()),
            init_list=[column[0].target.attname for column in select[start:end]],
            model_slice=slice(start, end),
            related_populators=get_related_populators(klass_info, select, alias),
        )

    def instances(self, params: Sequence[Any] | None = None, *, generic: bool = False) -> list[M]:
        """The query's rows as model instances (their ``select_related`` objects set),
        the way Django's own ``ModelIterable`` builds them; with ``generic``, planned
        once for all values where the connection allows it (:mod:`orion_project.generic_plan`)."""
        values = self.params if params is None else params
        rows = generic_plan.fetchall(connections[self.alias], self.sql, values, generic=generic)
        if self.converters:
            rows = converted(rows, self.converters, self.alias)
        found = []
        for row in rows:
            instance = self.model.from_db(self.alias, self.init_list, row[self.model_slice])
            for populator in self.related_populators:
                populator.populate(row, instance)
            found.append(instance)
        return found


class ByPrimaryKey(Generic[M]):
    """``queryset.filter(pk=...)`` for one object, with the SQL compiled once; for a
    workspace's record, the object only when it is of the workspace asked for, so an id of
    another workspace is not found, exactly as an unknown one.

    The workspace is compared with the row read rather than put in the ``WHERE``: the
    primary key finds one row either way, and a second condition would make PostgreSQL's
    planner weigh every index that leads with ``workspace_id`` for each read (a custom
    plan per execution, measured slower; ``docs/performance.md``).

    A read that locks nothing runs under a generic plan (:mod:`orion_project.generic_plan`):
    the same plan serves every id, and planning it each time cost more than running it.

    The queryset must be a plain model query (:meth:`CompiledQuery.supports`): what most
    read routes use.
    """

    def __init__(self, queryset: QuerySet[M]) -> None:
        assert CompiledQuery.supports(queryset), "prefetch_related, annotations, DISTINCT and unions are not supported"
        self._queryset = queryset
        self.tenant = is_tenant_model(queryset.model)
        self._generic = not queryset.query.select_for_update
        self._compiled: dict[str, tuple[CompiledQuery[M], int]] = {}

    def _compile(self, alias: str) -> tuple[CompiledQuery[M], int]:
        """The query for the placeholder id, and where the id sits among its parameters."""
        compiled = CompiledQuery.of(self._queryset.filter(pk=_PLACEHOLDER), alias)
        assert compiled is not None
        placeholder = self._queryset.model._meta.pk.get_db_prep_value(_PLACEHOLDER, connections[alias])
        positions = [index for index, value in enumerate(compiled.params) if value == placeholder]
        assert len(positions) == 1, "the id must appear once among the query's parameters"
        return compiled, positions[0]

    def get(self, pk: uuid.UUID, *, workspace_id: int | None = None) -> M | None:
        """The object with this primary key (in this workspace, for a workspace's
        record: then ``workspace_id`` is required), or ``None``."""
        if self.tenant and workspace_id is None:
            raise TypeError(f"reading a {self._queryset.model.__name__} needs its workspace_id")
        if not self.tenant and workspace_id is not None:
            raise TypeError(f"a {self._queryset.model.__name__} belongs to no workspace")
        alias = self._queryset.db
        entry = self._compiled.get(alias)
        if entry is None:
            entry = self._compiled[alias] = self._compile(alias)
        compiled, id_position = entry
        params = list(compiled.params)
        params[id_position] = self._queryset.model._meta.pk.get_db_prep_value(pk, connections[alias])
        found = compiled.instances(params, generic=self._generic)
        if not found or (self.tenant and found[0].workspace_id != workspace_id):  # type: ignore[attr-defined]
            return None
        return found[0]


class StatementsByBody(Generic[T]):
    """SQL compiled once per distinct filter body, kept for the bodies seen most lately.

    Clients and dashboards send the same bodies again and again (a state's runs, a
    flow's, a run's task runs), and building and compiling the queryset is most of such a
    request's CPU. A filter body's SQL depends only on the body (the filter engine reads
    nothing from the database while building it), so the statement compiled for one body
    serves every later request with an equal body.
    What ``compile`` returns (``(sql, params)``, a :class:`CompiledQuery`, ``None`` for a
    body that matches nothing) is kept as it is: it must not change once made.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._statements: OrderedDict[tuple[str, bytes], T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, alias: str, body: Any, compile: Callable[[], T]) -> T:
        try:
            key = (alias, orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
        except TypeError:  # a value orjson cannot write: compile it every time
            return compile()
        with self._lock:
            if key in self._statements:
                self._statements.move_to_end(key)
                return self._statements[key]
        statement = compile()
        with self._lock:
            self._statements[key] = statement
            while len(self._statements) > self._size:
                self._statements.popitem(last=False)
        return statement


# ------------------------------------------------------------------------ the registry

_BY_ID: dict[tuple[type[Model], bool, tuple[str, ...], tuple[str, ...]], ByPrimaryKey[Any]] = {}


def by_id(
    model: type[M], *, locked: bool = False, joins: tuple[str, ...] = (), only: tuple[str, ...] = ()
) -> ByPrimaryKey[M]:
    """The read of one ``model`` row by primary key, with ``select_related(*joins)``,
    when ``locked`` ``SELECT ... FOR UPDATE``, and when ``only`` names fields just those
    (and the workspace, which the read compares); compiled once per process and database.

    The key is all the query is made of, so every caller asking for the same read shares
    one compiled statement.
    """
    key = (model, locked, joins, only)
    read = _BY_ID.get(key)
    if read is None:
        queryset = model._default_manager.all()
        if joins:
            queryset = queryset.select_related(*joins)
        if locked:
            queryset = queryset.select_for_update()
        if only:
            queryset = queryset.only(*only, *(("workspace_id",) if is_tenant_model(model) else ()))
        read = _BY_ID.setdefault(key, ByPrimaryKey(queryset))
    return read


def by_id_like(queryset: QuerySet[M]) -> ByPrimaryKey[M] | None:
    """:func:`by_id` for the read ``queryset.get(pk=...)`` makes, when ``queryset`` is a
    model's rows with nothing but ``select_related`` joins; ``None`` for any other
    queryset (filtered, locked, deferred, sliced, prefetching, annotated), which the
    caller reads through the ORM.

    What a queryset object reduces to is worked out once (a view's ``queryset`` is one
    object for the life of the process), so a request pays two dictionary look-ups.
    """
    try:
        joins = _JOINS_OF[queryset]
    except KeyError:
        joins = _JOINS_OF[queryset] = _joins_of(queryset)
    return None if joins is None else by_id(queryset.model, joins=joins)


# A queryset object -> its joins (``None``: not a plain by-id read); forgotten with it.
_JOINS_OF: weakref.WeakKeyDictionary[QuerySet[Any], tuple[str, ...] | None] = weakref.WeakKeyDictionary()


def _joins_of(queryset: QuerySet[Any]) -> tuple[str, ...] | None:
    query = queryset.query
    if (
        query.where
        or query.select_for_update
        or query.deferred_loading != (frozenset(), True)
        or query.select_related is True
        or query.low_mark
        or query.high_mark is not None
        or not CompiledQuery.supports(queryset)
    ):
        return None
    return tuple(_join_paths(query.select_related)) if query.select_related else ()


def _join_paths(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """``select_related``'s tree as the paths that name it (``work_queue__work_pool``)."""
    paths = []
    for name, below in tree.items():
        path = f"{prefix}{name}"
        paths.extend(_join_paths(below, f"{path}__") if below else [path])
    return paths


_BY_BODY: StatementsByBody[Any] = StatementsByBody()


class ByBody(Generic[T]):
    """A statement built by ``build`` from a validated filter body and the workspace it
    reads, compiled once per distinct (workspace, body) and kept in the one
    :class:`StatementsByBody` cache.

    ``build`` must read no clock and no database (see the module docstring); every
    instance is listed in :attr:`registered`, which the test of that rule goes through.
    """

    registered: list[ByBody[Any]] = []

    def __init__(self, build: Callable[[Mapping[str, Any], int], QuerySet[Any]]) -> None:
        self.build = build
        self.name = f"{build.__module__}.{build.__qualname__}"
        ByBody.registered.append(self)

    def compile(self, body: Mapping[str, Any], alias: str, workspace_id: int) -> T:
        """The statement for ``body``, compiled now (the cache calls this once per body)."""
        raise NotImplementedError

    def statement(self, body: Mapping[str, Any], alias: str, workspace_id: int) -> tuple[str, tuple[Any, ...]] | None:
        """The SQL and parameters for ``body`` (``None``: matches nothing), built now."""
        compiled: Any = self.compile(body, alias, workspace_id)  # a CompiledQuery or CompiledRows
        return None if compiled is None else (compiled.sql, compiled.params)

    def _cached(self, body: Mapping[str, Any], workspace_id: int) -> T:
        alias = connection.alias
        cached = lambda key, make: _BY_BODY.get(alias, (self.name, workspace_id, *key), make)  # noqa: E731
        return body_times.statement(body, alias, cached, lambda given: self.compile(given, alias, workspace_id))


class PageByBody(ByBody[CompiledQuery[M] | None]):
    """A page of model rows (``build`` returns the sorted, sliced queryset)."""

    def compile(self, body: Mapping[str, Any], alias: str, workspace_id: int) -> CompiledQuery[M] | None:
        return CompiledQuery.of(self.build(body, workspace_id), alias)

    def rows(self, body: Mapping[str, Any], *, workspace_id: int) -> list[M]:
        """The page's rows for ``body`` in the workspace, read now."""
        compiled = self._cached(body, workspace_id)
        return compiled.instances() if compiled is not None else []


class ValueByBody(ByBody[tuple[str, tuple[Any, ...]] | None]):
    """One value (``build`` returns a queryset of one row and one column, such as a
    count)."""

    def compile(self, body: Mapping[str, Any], alias: str, workspace_id: int) -> tuple[str, tuple[Any, ...]] | None:
        return self.statement(body, alias, workspace_id)

    def statement(self, body: Mapping[str, Any], alias: str, workspace_id: int) -> tuple[str, tuple[Any, ...]] | None:
        try:
            sql, params = self.build(body, workspace_id).query.get_compiler(using=alias).as_sql()
        except EmptyResultSet:
            return None
        return sql, tuple(params)

    def value(self, body: Mapping[str, Any], *, workspace_id: int, empty: Any = None) -> Any:
        """The value for ``body`` in the workspace, read now; ``empty`` when the body can
        match nothing."""
        statement = self._cached(body, workspace_id)
        if statement is None:
            return empty
        with connections[connection.alias].cursor() as cursor:
            cursor.execute(*statement)
            row = cursor.fetchone()
        return empty if row is None else row[0]


class RowsByBody(ByBody[CompiledRows | None]):
    """Value rows (``build`` returns a ``values_list`` queryset)."""

    def compile(self, body: Mapping[str, Any], alias: str, workspace_id: int) -> CompiledRows | None:
        return CompiledRows.of(self.build(body, workspace_id), alias)

    def rows(self, body: Mapping[str, Any], *, workspace_id: int) -> list[tuple[Any, ...]]:
        """The rows for ``body`` in the workspace, read now."""
        compiled = self._cached(body, workspace_id)
        return compiled.rows() if compiled is not None else []


# ------------------------------------------------------------------------ the writes


class RowWrite(Generic[M]):
    """A model's ``INSERT`` of every column and ``UPDATE`` of every column by primary key,
    the SQL written once per database, for writers that run the same row write many times
    (the orchestration engine: a state row and its run on every transition).

    What ``Model.save()`` would send, with each field's ``pre_save`` (``auto_now``) and
    ``get_db_prep_save`` applied the same way, but without compiling an ``InsertQuery`` or
    ``UpdateQuery`` each time: that compile cost more than the statement. No signals are
    sent (no model written here has receivers), and the instance is marked saved.
    """

    def __init__(self, model: type[M]) -> None:
        self.model = model
        meta = model._meta
        self.fields = tuple(meta.local_concrete_fields)
        self.pk = meta.pk
        assert not any(field.generated or field is meta.auto_field for field in self.fields), "not supported"
        self.changed = tuple(field for field in self.fields if not field.primary_key)
        self._sql: dict[str, tuple[str, str]] = {}
        self._many: dict[tuple[str, int], str] = {}

    def sql(self, alias: str) -> tuple[str, str]:
        """The ``INSERT`` and the ``UPDATE`` (parameters: :meth:`insert_params`,
        :meth:`update_params`) for the database ``alias``."""
        statements = self._sql.get(alias)
        if statements is None:
            quote = connections[alias].ops.quote_name
            table = quote(self.model._meta.db_table)
            columns = ", ".join(quote(field.column) for field in self.fields)
            insert = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(self.fields))})"
            assignments = ", ".join(f"{quote(field.column)} = %s" for field in self.changed)
            update = f"UPDATE {table} SET {assignments} WHERE {quote(self.pk.column)} = %s"
            statements = self._sql[alias] = (insert, update)
        return statements

    def insert_rows(self, instances: Sequence[M], alias: str) -> None:
        """Insert new ``instances`` with one multi-row ``INSERT`` (its SQL kept per row
        count). One statement is atomic by itself, so no transaction is opened for it,
        unlike ``bulk_create``, which wraps even one statement in one."""
        if not instances:
            return
        rows = [self.insert_params(instance, alias) for instance in instances]
        connection = connections[alias]
        if connection.vendor == "postgresql":
            # One array per column, whatever the row count: one statement to prepare.
            sql = self._many.get((alias, 0))
            if sql is None:
                insert, _ = self.sql(alias)
                arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in self.fields)
                sql = self._many[(alias, 0)] = f"{insert[: insert.index(' VALUES ')]} SELECT * FROM UNNEST({arrays})"
            params: list[Any] = [list(column) for column in zip(*rows, strict=True)]
        else:
            sql = self._many.get((alias, len(rows)))
            if sql is None:
                insert, _ = self.sql(alias)
                row = insert[insert.index(" VALUES ") + len(" VALUES ") :]
                sql = f"{insert}{(', ' + row) * (len(rows) - 1)}"
                if len(self._many) < 64:  # clients send a few batch sizes; others are written each time
                    self._many[(alias, len(rows))] = sql
            params = [value for row in rows for value in row]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        for instance in instances:
            self.saved(instance, alias)

    def insert_params(self, instance: M, alias: str) -> list[Any]:
        return save_values(instance, save_columns(self.fields, alias), True, connections[alias])

    def update_params(self, instance: M, alias: str) -> list[Any]:
        connection = connections[alias]
        values = save_values(instance, save_columns(self.changed, alias), False, connection)
        values.append(self.pk.get_db_prep_save(instance.pk, connection))
        return values

    @staticmethod
    def saved(instance: M, alias: str) -> None:
        """Mark ``instance`` as stored in ``alias``, as ``Model.save()`` does."""
        instance._state.adding = False
        instance._state.db = alias


_ROW_WRITES: dict[type[Model], RowWrite[Any]] = {}


def row_write(model: type[M]) -> RowWrite[M]:
    """The :class:`RowWrite` of ``model``, made once per process."""
    write = _ROW_WRITES.get(model)
    if write is None:
        write = _ROW_WRITES.setdefault(model, RowWrite(model))
    return write


def insert_then_save(first: Model, then: Model, *, with_items: str = "", with_params: Sequence[Any] = ()) -> None:
    """Insert the new row ``first``, then insert (when new) or update ``then``: one
    statement on PostgreSQL (a data-modifying ``WITH``, after ``with_items``: its event), two elsewhere.

    The two rows may point at each other; foreign keys are checked at commit. An update
    that finds no row raises ``DatabaseError``, as ``save(force_update=True)`` does.
    """
    alias = first._state.db or connection.alias  # the project has one database
    first_write, then_write = row_write(type(first)), row_write(type(then))
    first_insert, _ = first_write.sql(alias)
    then_insert, then_update = then_write.sql(alias)
    adding = then._state.adding
    first_params = first_write.insert_params(first, alias)
    then_sql = then_insert if adding else then_update
    then_params = then_write.insert_params(then, alias) if adding else then_write.update_params(then, alias)
    with connections[alias].cursor() as cursor:
        if connections[alias].vendor == "postgresql":
            sql = f"WITH {with_items} first_row AS ({first_insert}) {then_sql}"
            cursor.execute(sql, [*with_params, *first_params, *then_params])
        else:
            cursor.execute(first_insert, first_params)
            cursor.execute(then_sql, then_params)
        if cursor.rowcount != 1:
            raise DatabaseError(f"the {type(then).__name__} to update was not found")
    RowWrite.saved(first, alias)
    RowWrite.saved(then, alias)
