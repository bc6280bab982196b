"""Queries compiled to SQL once and run many times: read one by id (:class:`ByPrimaryKey`),
and statements by filter body (:class:`StatementsByBody`), such as a list route's page
(:class:`CompiledQuery`).

``GET /flow_runs/{id}`` is the request every client makes most, and a third of its CPU
went to building and compiling the same queryset again for each request (the SELECT with
its joins never changes, only the id; ``scripts/profile_hotpath.py --profile``). A
:class:`ByPrimaryKey` compiles the queryset once per database alias and then runs its SQL
with the new id, turning rows into model instances (with their ``select_related`` objects)
the way Django's own iterable does (:class:`CompiledQuery`). It mirrors
``django.db.models.query.ModelIterable`` (Django 5.2), which is why it lives in one small
place with its own test (``tests/core/test_prepared_query.py``).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]

M = TypeVar("M", bound=Model)
T = TypeVar("T")

# Any fixed id serves to compile the query; its position among the parameters is then
# replaced by the real one.
_PLACEHOLDER = uuid.UUID("00000000-0000-4000-8000-00000000c0de")


@dataclass(frozen=True)
class CompiledQuery(Generic[M]):
    """A model queryset's SQL and its row -> instance machinery, compiled for one
    database alias; :meth:`instances` runs it again whenever asked.

    It keeps what running needs and not Django's compiler, which holds the whole query
    (43 KiB per flow-run page against 9 KiB; :class:`StatementsByBody` keeps 512 pages).
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
        compiler = queryset.query.get_compiler(using=alias)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return None
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

    def instances(self, params: Sequence[Any] | None = None) -> list[M]:
        """The query's rows as model instances (their ``select_related`` objects set),
        the way Django's own ``ModelIterable`` builds them."""
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, self.params if params is None else params)
            rows = cursor.fetchall()
        if self.converters:
            rows = self._converted(rows)
        found = []
        for row in rows:
            instance = self.model.from_db(self.alias, self.init_list, row[self.model_slice])
            for populator in self.related_populators:
                populator.populate(row, instance)
            found.append(instance)
        return found

    def _converted(self, rows: list[Any]) -> list[list[Any]]:
        """The rows with each column's ``from_db_value`` applied (Django's
        ``SQLCompiler.apply_converters``)."""
        connection = connections[self.alias]
        converted = []
        for row in map(list, rows):
            for position, (converters, expression) in self.converters:
                value = row[position]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[position] = value
            converted.append(row)
        return converted


class ByPrimaryKey(Generic[M]):
    """``queryset.filter(pk=...)`` for one object, with the SQL compiled once.

    The queryset must be a plain model query (:meth:`CompiledQuery.supports`): what most
    read routes use.
    """

    def __init__(self, queryset: QuerySet[M]) -> None:
        assert CompiledQuery.supports(queryset), "prefetch_related, annotations, DISTINCT and unions are not supported"
        self._queryset = queryset
        self._compiled: dict[str, tuple[CompiledQuery[M], int]] = {}

    def _compile(self, alias: str) -> tuple[CompiledQuery[M], int]:
        """The query for the placeholder id, and where the id sits among its parameters."""
        compiled = CompiledQuery.of(self._queryset.filter(pk=_PLACEHOLDER), alias)
        assert compiled is not None
        placeholder = self._queryset.model._meta.pk.get_db_prep_value(_PLACEHOLDER, connections[alias])
        positions = [index for index, value in enumerate(compiled.params) if value == placeholder]
        assert len(positions) == 1, "the id must appear once among the query's parameters"
        return compiled, positions[0]

    def get(self, pk: uuid.UUID) -> M | None:
        """The object with this primary key, or ``None``."""
        alias = self._queryset.db
        entry = self._compiled.get(alias)
        if entry is None:
            entry = self._compiled[alias] = self._compile(alias)
        compiled, id_position = entry
        params = list(compiled.params)
        params[id_position] = self._queryset.model._meta.pk.get_db_prep_value(pk, connections[alias])
        found = compiled.instances(params)
        return found[0] if found else None


class StatementsByBody(Generic[T]):
    """SQL compiled once per distinct filter body, kept for the bodies seen most lately.

    Clients and dashboards send the same count body again and again (a state's runs, a
    flow's), and building and compiling its queryset is most of the request's CPU (3 of
    ~6 ms for ``POST /flow_runs/count``). A filter body's SQL depends only on the body
    (the filter engine reads nothing from the database while building it), so the
    statement compiled for one body serves every later request with an equal body.
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
