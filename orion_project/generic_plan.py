"""Statements run under PostgreSQL's generic plan, on connections that plan every other
statement per execution.

Every API connection sets ``plan_cache_mode = force_custom_plan``
(:func:`orion_project.config.database_from_url`): a filter read has to be planned for its
values. A read by primary key gains nothing from that, and planning it again at every
execution cost more of the database's CPU than running it (the flow-run table's many
indexes are all weighed at every planning; ``docs/performance.md``, "Generic plans").

:func:`rows` runs such a statement as one simple-protocol message of three statements::

    SET plan_cache_mode = force_generic_plan; EXECUTE orion_generic_1('<id>'); RESET plan_cache_mode

one round trip, like the prepared statement it replaces. ``RESET`` returns to the
connection's own setting, and the three run in one implicit transaction, so a failed
``EXECUTE`` undoes the ``SET`` with it. The statement is ``PREPARE``\\ d in the same message
the first time a connection runs it.

Only outside a transaction: psycopg deallocates every prepared statement of a connection
after a rollback, and an ``EXECUTE`` of a statement gone would abort an open transaction;
outside one, a failed message leaves nothing behind and is sent again with its
``PREPARE``. Inside one (the write path, the test suite's transactions) the caller runs the
statement the usual way, so its answer is the same either way.
"""

from __future__ import annotations

import itertools
import re
import threading
import uuid
import weakref
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError

# SQLSTATE 26000 (invalid_sql_statement_name): the connection no longer has the statement.
# SQLSTATE 42P05 (duplicate_prepared_statement): it already has it.
_STATEMENT_MISSING = "26000"
_STATEMENT_EXISTS = "42P05"

_names: dict[str, str] = {}
_names_lock = threading.Lock()
_counter = itertools.count(1)

# psycopg connection -> the names of the statements prepared on it. A pooled connection
# serves one request at a time, so its set is never used by two threads at once.
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

_PLACEHOLDER = re.compile(r"%([s%])")


def usable(connection: Any) -> bool:
    """Whether ``connection`` (a Django connection) can run a statement under a generic
    plan: PostgreSQL with prepared statements, outside a transaction."""
    return (
        connection.vendor == "postgresql"
        and connection.settings_dict["OPTIONS"].get("prepare_threshold") is not None
        and not connection.in_atomic_block
    )


def fetchall(connection: Any, sql: str, params: Sequence[Any], *, generic: bool) -> list[Any]:
    """The rows of ``sql`` for ``params``; with ``generic``, under a generic plan where
    ``connection`` (a Django connection) allows it (:func:`usable`)."""
    if generic and usable(connection):
        return rows(connection, sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()  # type: ignore[no-any-return]


def rows(connection: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (Django's ``%s`` placeholders) for ``params``, run under a
    generic plan on ``connection`` (which must be :func:`usable`)."""
    name = _name(sql)
    arguments = ", ".join(_literal(value, connection) for value in params)
    execute = f"SET plan_cache_mode = force_generic_plan; EXECUTE {name}({arguments}); RESET plan_cache_mode"
    with connection.cursor() as cursor:
        prepared = _prepared.setdefault(connection.connection, set())
        for _attempt in range(3):
            prepare = name not in prepared
            message = f"PREPARE {name} AS {_numbered(sql)}; {execute}" if prepare else execute
            try:
                cursor.execute(message)
            except DatabaseError as error:
                state = getattr(error.__cause__, "sqlstate", None)
                if state == _STATEMENT_MISSING:
                    prepared.discard(name)
                    continue
                if state == _STATEMENT_EXISTS:
                    prepared.add(name)
                    continue
                raise
            prepared.add(name)
            if prepare:
                cursor.nextset()
            cursor.nextset()
            return cursor.fetchall()  # type: ignore[no-any-return]
    raise DatabaseError(f"statement {name} could not be prepared")


def _name(sql: str) -> str:
    """The server-side name of ``sql``, the same on every connection of the process."""
    name = _names.get(sql)
    if name is None:
        with _names_lock:
            name = _names.setdefault(sql, f"orion_generic_{next(_counter)}")
    return name


def _numbered(sql: str) -> str:
    """``sql`` with Django's ``%s`` as PostgreSQL's ``$1``, ``$2``... and ``%%`` as ``%``."""
    numbers = itertools.count(1)
    return _PLACEHOLDER.sub(lambda match: f"${next(numbers)}" if match.group(1) == "s" else "%", sql)


def _literal(value: Any, connection: Any) -> str:
    """``value`` as an SQL literal, quoted by psycopg (an id written directly: it is hex
    digits and dashes)."""
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    from psycopg import sql

    return sql.Literal(value).as_string(connection.connection)
