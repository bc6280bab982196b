"""Configuration from the environment and the system check that guards it."""

from __future__ import annotations

from pathlib import Path

import pytest

from orion_project import config


@pytest.fixture(autouse=True)
def clean_errors() -> None:
    config.CONFIG_ERRORS.clear()


def test_postgres_url_uses_psycopg_with_a_pool() -> None:
    db = config.database_from_url("postgresql://u:p%40ss@db.example:5433/orion", pool_min=1, pool_max=5)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "orion",
        "u",
        "p@ss",
        "db.example",
        "5433",
    )
    # A request waits at most the pool timeout for a connection, then is answered 503.
    assert db["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 5, "timeout": 5}
    assert db["OPTIONS"]["connect_timeout"] == 5
    assert (db["OPTIONS"]["server_side_binding"], db["OPTIONS"]["prepare_threshold"]) == (True, 2)
    assert db["OPTIONS"]["options"] == "-c plan_cache_mode=force_custom_plan"
    assert config.CONFIG_ERRORS == []


def test_the_pool_timeout_bounds_connecting_unless_the_url_says_otherwise() -> None:
    db = config.database_from_url("postgresql://db/orion", pool_min=1, pool_max=5, pool_timeout=1)
    assert (db["OPTIONS"]["pool"]["timeout"], db["OPTIONS"]["connect_timeout"]) == (1, 2)  # libpq's least
    db = config.database_from_url("postgresql://db/orion?connect_timeout=9", pool_min=1, pool_max=5)
    assert db["OPTIONS"]["connect_timeout"] == "9"


def test_sqlite_busy_timeout_is_the_setting() -> None:
    db = config.database_from_url("sqlite:///data/x.db", pool_min=1, pool_max=5, sqlite_busy_timeout=2)
    assert db["OPTIONS"]["timeout"] == 2
    assert "PRAGMA busy_timeout=2000;" in db["OPTIONS"]["init_command"]


def test_prepared_statements_can_be_turned_off_for_a_transaction_pooler() -> None:
    db = config.database_from_url("postgresql://db/orion", pool_min=1, pool_max=5, prepared_statements=False)
    assert "server_side_binding" not in db["OPTIONS"]
    assert "prepare_threshold" not in db["OPTIONS"]
    assert "options" not in db["OPTIONS"]


def test_connection_options_of_the_url_are_kept_beside_the_plan_mode() -> None:
    db = config.database_from_url("postgresql://db/orion?options=-c%20work_mem%3D64MB", pool_min=1, pool_max=5)
    assert db["OPTIONS"]["options"] == "-c work_mem=64MB -c plan_cache_mode=force_custom_plan"


def test_sqlite_url_is_wal_with_immediate_transactions(tmp_path: Path) -> None:
    db = config.database_from_url(f"sqlite:///{tmp_path}/x.db", pool_min=1, pool_max=1)
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["timeout"] >= 20


def test_unknown_database_scheme_is_a_configuration_error() -> None:
    config.database_from_url("mysql://x/y", pool_min=1, pool_max=1)
    assert "not supported" in config.CONFIG_ERRORS[0]


def test_bad_boolean_and_integer_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_FLAG", "perhaps")
    monkeypatch.setenv("X_NUMBER", "many")
    assert config.env_bool("X_FLAG", False) is False
    assert config.env_int("X_NUMBER", 3) == 3
    assert len(config.CONFIG_ERRORS) == 2


def test_system_check_reports_configuration_errors() -> None:
    from orion_project.checks import check_environment

    config.CONFIG_ERRORS.append("DJANGO_DEBUG='perhaps' is not a boolean")
    errors = [problem for problem in check_environment() if problem.is_serious()]
    assert [error.id for error in errors] == ["orion.E001"]
    assert "DJANGO_DEBUG" in errors[0].msg
