"""Compiling a queryset once and running its SQL again: the pieces the read layer's
registry (:mod:`orion_project.prepared`) shares, and :class:`CompiledRows`, a
``values_list`` statement kept compiled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet


def compile_queryset(queryset: QuerySet[Any], alias: str) -> tuple[Any, str, Any] | None:
    """``queryset``'s compiler (its select and converters set up), SQL and parameters;
    ``None`` when Django proves it matches nothing (an empty ``IN``)."""
    compiler = queryset.query.get_compiler(using=alias)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return None
    return compiler, sql, params


@dataclass(frozen=True)
class CompiledRows:
    """A ``values_list`` queryset's SQL and its columns' converters, compiled for one
    database alias; :meth:`rows` runs it again whenever asked."""

    alias: str
    sql: str
    params: tuple[Any, ...]
    converters: list[tuple[int, tuple[list[Any], Any]]]

    @classmethod
    def of(cls, queryset: QuerySet[Any], alias: str | None = None) -> CompiledRows | None:
        """``queryset`` compiled; ``None`` when Django proves it matches nothing."""
        alias = alias or queryset.db
        compiled = compile_queryset(queryset, alias)
        if compiled is None:
            return None
        compiler, sql, params = compiled
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        return cls(alias, sql, tuple(params), list(compiler.get_converters(fields).items()))

    def rows(self, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows as tuples, each column's ``from_db_value`` applied; ``params`` in
        place of the compiled ones (the same statement for other values)."""
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, self.params if params is None else params)
            rows = cursor.fetchall()
        if not self.converters:
            return [tuple(row) for row in rows]
        return [tuple(row) for row in converted(rows, self.converters, self.alias)]


def converted(rows: list[Any], converters: list[tuple[int, tuple[list[Any], Any]]], alias: str) -> list[list[Any]]:
    """The rows with each column's ``from_db_value`` applied (Django's
    ``SQLCompiler.apply_converters``)."""
    connection = connections[alias]
    converted = []
    for row in map(list, rows):
        for position, (column_converters, expression) in converters:
            value = row[position]
            for converter in column_converters:
                value = converter(value, expression, connection)
            row[position] = value
        converted.append(row)
    return converted
