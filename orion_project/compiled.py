"""Compiling a queryset once and running its SQL again: the pieces the read layer's
registry (:mod:`orion_project.prepared`) shares, and :class:`CompiledRows`, a
``values_list`` statement kept compiled; and the column values its row writes send
(:func:`save_values`)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import CharField, DateField, DateTimeField, Field, Model, QuerySet, TextField, UUIDField


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


@dataclass(frozen=True)
class SaveColumn:
    """What :class:`orion_project.prepared.RowWrite` may skip of a field's ``pre_save``
    and ``get_db_prep_save`` on one database, where Django's code gives the value back
    unchanged."""

    field: Field[Any, Any]
    # ``pre_save`` reads the attribute (no ``auto_now``/``auto_now_add``).
    plain_read: bool
    # ``None`` is stored as ``None``.
    none_stored_as_is: bool
    # Values of exactly this type are stored as they are: a ``str`` of a text column, a
    # ``UUID`` of a UUID column (or a key to one) where the database has the type.
    stored_as_is: type | None

    @classmethod
    def of(cls, field: Field[Any, Any], connection: Any) -> SaveColumn:
        target = getattr(field, "target_field", field) if field.is_relation else field
        stored_as_is: type | None = None
        if type(field) in (CharField, TextField):
            stored_as_is = str
        elif type(target) is UUIDField and connection.features.has_native_uuid_field:
            stored_as_is = uuid.UUID
        plain_read = type(field).pre_save is Field.pre_save or (
            type(field) in (DateField, DateTimeField) and not (field.auto_now or field.auto_now_add)  # type: ignore[attr-defined]
        )
        return cls(field, plain_read, field.get_db_prep_save(None, connection) is None, stored_as_is)


@functools.cache
def save_columns(fields: tuple[Field[Any, Any], ...], alias: str) -> list[SaveColumn]:
    """:class:`SaveColumn` of each of ``fields`` on the database ``alias``, made once."""
    return [SaveColumn.of(field, connections[alias]) for field in fields]


def save_values(instance: Model, columns: Sequence[SaveColumn], add: bool, connection: Any) -> list[Any]:
    """Each column's ``get_db_prep_save(pre_save(instance, add))``, skipping the two
    calls where :class:`SaveColumn` knows their answer (a log batch made 1,000 of each)."""
    values = []
    for column in columns:
        field = column.field
        value = getattr(instance, field.attname) if column.plain_read else field.pre_save(instance, add)
        if (value is None and column.none_stored_as_is) or type(value) is column.stored_as_is:
            values.append(value)
        else:
            values.append(field.get_db_prep_save(value, connection))
    return values
