"""PostgreSQL ``timestamptz`` values are read by the C ``fromisoformat`` loader and come
out exactly as Django's own loader gives them: aware, in UTC."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DataError, connection

from orion_project.db import utc_timestamptz_loader

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL connection's loader")


@pytest.mark.django_db
def test_timestamps_load_through_the_fast_loader_as_utc() -> None:
    with connection.cursor() as cursor:
        loader = cursor.connection.adapters.get_loader(1184, 0)  # timestamptz, text
        assert loader is utc_timestamptz_loader()
        cursor.execute(
            "SELECT '2026-11-30 01:50:01.349+00'::timestamptz, '2026-11-30 07:20:01+05:30'::timestamptz, "
            "'0001-01-01 00:00:00+00'::timestamptz, '9999-12-31 23:59:59.999999+00'::timestamptz"
        )
        values = cursor.fetchone()
    assert values == (
        dt.datetime(2026, 11, 30, 1, 50, 1, 349000, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 30, 1, 50, 1, tzinfo=dt.UTC),
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    )
    assert all(value.tzinfo is dt.UTC for value in values)


@pytest.mark.django_db
def test_what_fromisoformat_refuses_fails_as_psycopg_fails() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'infinity'::timestamptz")
        with pytest.raises(DataError, match="after year 10K"):
            cursor.fetchone()
