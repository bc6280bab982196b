"""Small typed helpers that read configuration from the environment.

Settings stay in one module (``settings.py``); these helpers only parse values, so a bad
value is reported by the system check in ``orion_project.checks`` instead of crashing at
import time with a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})

# Problems found while reading the environment; the system check reports them.
CONFIG_ERRORS: list[str] = []


def env_str(name: str, default: str) -> str:
    """Return the variable ``name`` or ``default`` when unset."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """Return a boolean variable; an unrecognised word is recorded as a configuration error."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    CONFIG_ERRORS.append(f"{name}={raw!r} is not a boolean (use one of 1/0, true/false, yes/no).")
    return default


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """Return an integer variable, recording a configuration error if it does not parse."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        CONFIG_ERRORS.append(f"{name}={raw!r} is not an integer.")
        return default
    if minimum is not None and value < minimum:
        CONFIG_ERRORS.append(f"{name}={value} must be at least {minimum}.")
        return default
    return value


def env_choice(name: str, default: str, choices: list[str], *, invalid: str | None = None) -> str:
    """Return a variable that must be one of ``choices`` (lower-cased), else record an error
    and return ``invalid`` (``default`` if not given)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in choices:
        CONFIG_ERRORS.append(f"{name}={raw!r} is not one of: {', '.join(choices)}.")
        return default if invalid is None else invalid
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated list variable with blanks removed."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# How long a request waits for a PostgreSQL connection before it is answered 503.
DEFAULT_POOL_TIMEOUT_SECONDS = 5
# How long a SQLite writer queues behind another before it is answered 503.
DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS = 30


def sqlite_database(path: Path, *, busy_timeout: int = DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The embedded default: one SQLite file in WAL mode.

    ``transaction_mode=IMMEDIATE`` makes every transaction take the write lock when it
    begins, so concurrent writers queue on the busy ``timeout`` instead of failing later
    with "database is locked" when a reader tries to upgrade its lock. A writer still
    waiting after ``busy_timeout`` seconds is answered 503 with ``Retry-After``.
    """
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        # Opening a SQLite connection runs four PRAGMAs, a large share of a small
        # request's work; each thread keeps its connection (docs/performance.md).
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            "timeout": busy_timeout,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
                f"PRAGMA busy_timeout={busy_timeout * 1000};"
            ),
        },
        "TEST": {"NAME": str(path.with_name("test_" + path.name))},
    }


def database_from_url(
    url: str,
    *,
    pool_min: int,
    pool_max: int,
    prepared_statements: bool = True,
    pool_timeout: int = DEFAULT_POOL_TIMEOUT_SECONDS,
    sqlite_busy_timeout: int = DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Translate ``DATABASE_URL`` into a Django ``DATABASES['default']`` entry.

    Supported schemes: ``sqlite:///relative/or/absolute/path`` and
    ``postgres://`` / ``postgresql://`` (psycopg 3 with its connection pool).

    ``pool_timeout`` bounds how long a request waits for a pooled connection, and (unless
    the URL sets ``connect_timeout``) how long opening one may take: while PostgreSQL is
    down or restarting, requests fail within it and are answered 503 with ``Retry-After``
    (``orion_project.db_availability``) instead of waiting for the database to come back.

    On PostgreSQL, parameters are bound by the server and a statement is prepared on its
    connection from its third use: the API runs the same few dozen statements all day,
    and PostgreSQL parsing them again was most of its CPU for a small read
    (docs/performance.md, "Prepared statements").
    ``prepared_statements=False`` (``ORION_DB_PREPARED_STATEMENTS=false``) goes back to
    binding in the client, for a pooler in transaction mode that cannot keep them.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        raw_path = unquote(parts.path)
        # sqlite:///data/x.db is relative, sqlite:////abs/x.db is absolute.
        path = Path(raw_path[1:] if raw_path.startswith("/") else raw_path)
        if raw_path.startswith("//"):
            path = Path(raw_path[1:])
        if not str(path):
            CONFIG_ERRORS.append("DATABASE_URL for SQLite must name a file, e.g. sqlite:///data/orion.db")
        return sqlite_database(path.resolve(), busy_timeout=sqlite_busy_timeout)
    if scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            CONFIG_ERRORS.append("DATABASE_URL for PostgreSQL must name a database.")
        options: dict[str, Any] = {
            "pool": {"min_size": pool_min, "max_size": pool_max, "timeout": pool_timeout},
            # libpq's smallest meaningful value is 2 seconds.
            "connect_timeout": max(pool_timeout, 2),
        }
        for key, values in parse_qs(parts.query).items():
            options[key] = values[-1]
        if prepared_statements:
            options.update(server_side_binding=True, prepare_threshold=2)
            # Planned for each execution's values all the same: a generic plan, which
            # PostgreSQL switches to after five executions, cannot see how selective a
            # filter's values are, and chose a 3x dearer plan for the nested filter.
            options["options"] = f"{options.get('options', '')} -c plan_cache_mode=force_custom_plan".strip()
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 0,  # the psycopg pool owns connection reuse
            "OPTIONS": options,
        }
    CONFIG_ERRORS.append(f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:/// or postgresql://).")
    return sqlite_database(Path("data/orion.sqlite3").resolve())
