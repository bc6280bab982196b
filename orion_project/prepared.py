"""Queries compiled to SQL once and run many times: read one by id, and statements by
filter body (:class:`StatementsByBody`).

``GET /flow_runs/{id}`` is the request every client makes most, and a third of its CPU
went to building and compiling the same queryset again for each request (the SELECT with
its joins never changes, only the id; ``scripts/profile_hotpath.py --profile``). A
:class:`ByPrimaryKey` compiles the queryset once per database alias and then runs its SQL
with the new id, turning rows into model instances (with their ``select_related`` objects)
the way Django's own iterable does. It mirrors ``django.db.models.query.ModelIterable``
(Django 5.2), which is why it lives in one small place with its own test
(``tests/core/test_prepared_query.py``).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]

M = TypeVar("M", bound=Model)

# Any fixed id serves to compile the query; its position among the parameters is then
# replaced by the real one.
_PLACEHOLDER = uuid.UUID("00000000-0000-4000-8000-00000000c0de")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    id_position: int
    compiler: Any
    converters: Any
    init_list: list[str]
    model_slice: slice
    related_populators: list[Any]


class ByPrimaryKey(Generic[M]):
    """``queryset.filter(pk=...)`` for one object, with the SQL compiled once.

    The queryset must be a plain model query (filters, ``select_related``, ``only``
    allowed; see :meth:`supports`): what most read routes use.
    """

    @staticmethod
    def supports(queryset: QuerySet[Any]) -> bool:
        """Whether ``queryset`` is of the plain kind this class can run."""
        query = queryset.query
        return not (
            queryset._prefetch_related_lookups  # type: ignore[attr-defined]
            or query.annotations
            or query.distinct
            or query.extra
            or query.combinator
        )

    def __init__(self, queryset: QuerySet[M]) -> None:
        assert self.supports(queryset), "prefetch_related, annotations, DISTINCT and unions are not supported"
        self._queryset = queryset
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, alias: str) -> _Compiled:
        connection = connections[alias]
        queryset = self._queryset.filter(pk=_PLACEHOLDER)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        placeholder = queryset.model._meta.pk.get_db_prep_value(_PLACEHOLDER, connection)
        positions = [index for index, value in enumerate(params) if value == placeholder]
        assert len(positions) == 1, "the id must appear once among the query's parameters"
        assert not compiler.annotation_col_map, "annotations are not supported"
        select, klass_info = compiler.select, compiler.klass_info
        fields = [column[0] for column in select[: compiler.col_count]]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return _Compiled(
            sql=sql,
            params=tuple(params),
            id_position=positions[0],
            compiler=compiler,
            converters=compiler.get_converters(fields),
            init_list=[column[0].target.attname for column in select[start:end]],
            model_slice=slice(start, end),
            related_populators=get_related_populators(klass_info, select, alias),
        )

    def get(self, pk: uuid.UUID) -> M | None:
        """The object with this primary key, or ``None``."""
        alias = self._queryset.db
        compiled = self._compiled.get(alias)
        if compiled is None:
            compiled = self._compiled[alias] = self._compile(alias)
        connection = connections[alias]
        params = list(compiled.params)
        params[compiled.id_position] = self._queryset.model._meta.pk.get_db_prep_value(pk, connection)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if not rows:
            return None
        if compiled.converters:
            rows = list(compiled.compiler.apply_converters(rows, compiled.converters))
        row = rows[0]
        instance = self._queryset.model.from_db(alias, compiled.init_list, row[compiled.model_slice])
        for populator in compiled.related_populators:
            populator.populate(row, instance)
        return instance


class StatementsByBody:
    """SQL compiled once per distinct filter body, kept for the bodies seen most lately.

    Clients and dashboards send the same count body again and again (a state's runs, a
    flow's), and building and compiling its queryset is most of the request's CPU (3 of
    ~6 ms for ``POST /flow_runs/count``). A filter body's SQL depends only on the body
    (the filter engine reads nothing from the database while building it), so the
    statement compiled for one body serves every later request with an equal body.
    ``compile`` returns ``(sql, params)``, or ``None`` for a body that matches nothing.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._statements: OrderedDict[tuple[str, bytes], tuple[str, tuple[Any, ...]] | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, alias: str, body: Any, compile: Callable[[], tuple[str, Sequence[Any]] | None]
    ) -> tuple[str, tuple[Any, ...]] | None:
        try:
            key = (alias, orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
        except TypeError:  # a value orjson cannot write: compile it every time
            return _statement(compile())
        with self._lock:
            if key in self._statements:
                self._statements.move_to_end(key)
                return self._statements[key]
        statement = _statement(compile())
        with self._lock:
            self._statements[key] = statement
            while len(self._statements) > self._size:
                self._statements.popitem(last=False)
        return statement


def _statement(compiled: tuple[str, Sequence[Any]] | None) -> tuple[str, tuple[Any, ...]] | None:
    return None if compiled is None else (compiled[0], tuple(compiled[1]))
