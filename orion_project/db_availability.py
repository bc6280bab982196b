"""Telling "the database cannot be reached" apart from every other database error.

While PostgreSQL is down or restarting, or SQLite stays locked past its busy timeout, a
request is answered 503 with ``Retry-After`` (``orion_project.api.errors``), which both
stock clients retry, and the services loop logs one line and tries again at the next
interval. Every other database error is still a bug or the request's fault and keeps its
own answer, so the test is narrow:

* no pooled PostgreSQL connection within ``ORION_DB_POOL_TIMEOUT_SECONDS``
  (``psycopg_pool.PoolTimeout``, or the pool refusing more waiting clients);
* an error PostgreSQL reports about the connection rather than the statement: SQLSTATE
  class 08 (connection exception), 57P01-57P03 (shutting down, crashed, starting up),
  53300 (too many connections);
* a psycopg ``OperationalError`` with no SQLSTATE at all: the server said nothing, so the
  client's link to it failed (refused, reset, closed, timed out);
* SQLite's ``SQLITE_BUSY`` / ``SQLITE_LOCKED`` ("database is locked").

Django wraps the driver's exception in its own and keeps the original as ``__cause__``,
so that chain is examined (not ``__context__``: an error raised while handling an outage
is a different error).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

# PostgreSQL SQLSTATEs that describe the connection, not the statement.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08"})
SQLITE_UNAVAILABLE_PREFIXES = ("SQLITE_BUSY", "SQLITE_LOCKED")
POOL_ERROR_NAMES = frozenset({"PoolTimeout", "TooManyRequests"})


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it wraps) means the database cannot be reached now."""
    return any(_unavailable(error) for error in _chain(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        name = getattr(error, "sqlite_errorname", "") or ""
        return name.startswith(SQLITE_UNAVAILABLE_PREFIXES) or "database is locked" in str(error)
    module = type(error).__module__
    if module.startswith("psycopg_pool"):
        return type(error).__name__ in POOL_ERROR_NAMES
    if module.startswith("psycopg"):
        import psycopg  # only reached when psycopg raised, so it is installed

        if not isinstance(error, psycopg.OperationalError):
            return False
        sqlstate = getattr(error, "sqlstate", None)
        if sqlstate is None:
            return True
        return sqlstate in UNAVAILABLE_SQLSTATES or sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES
    return False
