"""Schedule validation and dates, across daylight-saving changes (reference §B.0, §G.3)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from flows_app.schedules import (
    CronSchedule,
    IntervalSchedule,
    ScheduleError,
    next_dates,
    parse_schedule,
    scheduled_times,
)

NEW_YORK = ZoneInfo("America/New_York")


def local(values: list[dt.datetime]) -> list[str]:
    return [value.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for value in values]


def test_interval_shape_and_defaults() -> None:
    schedule = parse_schedule({"interval": 3600, "anchor_date": "2026-01-01T00:00:00+00:00"})
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.to_json() == {"interval": 3600.0, "anchor_date": "2026-01-01T00:00:00+00:00", "timezone": "UTC"}


@pytest.mark.parametrize(
    "data",
    [
        {"interval": 0},
        {"interval": -5},
        {"interval": 60, "colour": "red"},
        {"cron": "not a cron"},
        {"cron": "0 0 * * * *"},
        {"cron": "H 0 * * *"},
        {"cron": "0 0 * * *", "timezone": "Mars/Olympus"},
        {"rrule": "FREQ=NEVER"},
        {"rrule": "FREQ=DAILY;" + "X" * 7000},
        {"neither": 1},
        "not an object",
    ],
)
def test_invalid_schedules(data: object) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(data)


def test_daily_interval_keeps_local_time_across_spring_forward() -> None:
    schedule = parse_schedule(
        {"interval": 86400, "anchor_date": "2026-03-07T09:00:00-05:00", "timezone": "America/New_York"}
    )
    dates = next_dates(schedule, start=dt.datetime(2026, 3, 7, 12, tzinfo=dt.UTC), n=3)
    assert local(dates) == ["03-07 09:00", "03-08 09:00", "03-09 09:00"]


def test_hourly_interval_steps_in_absolute_time() -> None:
    schedule = parse_schedule(
        {"interval": 3600, "anchor_date": "2026-03-08T05:00:00+00:00", "timezone": "America/New_York"}
    )
    dates = next_dates(schedule, start=dt.datetime(2026, 3, 8, 5, tzinfo=dt.UTC), n=3)
    assert [d.strftime("%H:%M") for d in dates] == ["05:00", "06:00", "07:00"]
    assert local(dates) == ["03-08 00:00", "03-08 01:00", "03-08 03:00"]


def test_cron_across_daylight_saving_changes() -> None:
    at_two = parse_schedule({"cron": "0 2 * * *", "timezone": "America/New_York"})
    assert isinstance(at_two, CronSchedule)
    spring = next_dates(at_two, start=dt.datetime(2026, 3, 7, 12, tzinfo=dt.UTC), n=3)
    # 02:00 does not exist on 03-08: that day's run moves to 03:00, then 02:00 again.
    assert local(spring) == ["03-08 03:00", "03-09 02:00", "03-10 02:00"]
    half_past_one = parse_schedule({"cron": "30 1 * * *", "timezone": "America/New_York"})
    autumn = next_dates(half_past_one, start=dt.datetime(2026, 10, 31, 12, tzinfo=dt.UTC), n=3)
    assert local(autumn).count("11-01 01:30") == 1  # the repeated hour fires once
    assert local(autumn) == ["11-01 01:30", "11-02 01:30", "11-03 01:30"]


def test_rrule_dates() -> None:
    schedule = parse_schedule({"rrule": "FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=8;BYMINUTE=0", "timezone": "UTC"})
    dates = next_dates(schedule, start=dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC), n=3)
    assert [d.strftime("%a %H:%M") for d in dates] == ["Fri 08:00", "Mon 08:00", "Fri 08:00"]


@pytest.mark.parametrize(
    ("min_runs", "max_runs", "min_time_h", "end_h", "expected"),
    [
        (3, 100, 1, 2400, 3),  # 3 runs reach past start + 1 h: stop early
        (3, 100, 10, 2400, 11),  # min_time not reached until the 11th hourly date
        (3, 2, 1, 2400, 2),  # max_runs caps
        (3, 100, 10, 4, 5),  # end_time caps (inclusive)
    ],
)
def test_scheduled_times_stopping_rule(
    min_runs: int, max_runs: int, min_time_h: int, end_h: int, expected: int
) -> None:
    schedule = parse_schedule({"interval": 3600, "anchor_date": "2026-01-01T00:00:00+00:00"})
    start = dt.datetime(2026, 11, 24, 0, tzinfo=dt.UTC)
    dates = scheduled_times(
        schedule,
        start_time=start,
        end_time=start + dt.timedelta(hours=end_h),
        min_time=dt.timedelta(hours=min_time_h),
        min_runs=min_runs,
        max_runs=max_runs,
    )
    assert len(dates) == expected
    assert dates[0] == start
