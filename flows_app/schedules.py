"""Deployment schedules: validation, their JSON shape, and the dates they produce.

Three kinds, told apart by their keys (reference §B.0): ``interval`` (seconds, an anchor
date and a time zone), ``cron`` (five fields, a time zone, ``day_or``) and ``rrule``
(RFC 5545 text, a time zone). Dates are computed in the schedule's time zone, so a daily
interval or a cron time keeps its wall-clock time across daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from dateutil import rrule as dateutil_rrule

from orion_project.clock import (
    DateTimeFormatError,
    DateTimeRangeError,
    DurationRangeError,
    add_clamped,
    duration_from_seconds,
    parse_datetime,
)

_Moment = TypeVar("_Moment", bound=dt.datetime)

MAX_RRULE_LENGTH = 6500
MAX_ITERATIONS = 10_000


class ScheduleError(ValueError):
    """A schedule that does not validate; ``error_type`` is pydantic's error type and
    ``key`` the schedule key at fault, when the error is about one."""

    def __init__(self, message: str, error_type: str = "value_error", key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.key = key


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f'Invalid timezone: "{name}"') from None


def _parse_time(value: Any) -> dt.datetime:
    try:
        # The offset given is kept: the schedule echoes its anchor as it was sent.
        return parse_datetime(value, keep_offset=True)
    except DateTimeRangeError as error:
        raise ScheduleError(str(error), "value_error.datetime", key="anchor_date") from None
    except DateTimeFormatError:
        raise ScheduleError("invalid datetime format", "value_error.datetime") from None


def _stepped(origin: _Moment, step: dt.timedelta, steps: int) -> _Moment:
    """``origin + steps * step``: the last date at or before the start of the dates
    wanted. When that lies before year 1 (a start long before an anchor, an interval of
    millennia), the date one step later, which is in the calendar and after the start."""
    try:
        return origin + step * steps
    except OverflowError:
        return origin + step * (steps + 1)


@dataclass(frozen=True)
class IntervalSchedule:
    """Every ``interval`` from ``anchor_date``, counted in the schedule's time zone."""

    interval: dt.timedelta
    anchor_date: dt.datetime
    timezone: str

    def to_json(self) -> dict[str, Any]:
        return {
            "interval": self.interval.total_seconds(),
            "anchor_date": self.anchor_date.isoformat(),
            "timezone": self.timezone,
        }

    def dates(self, start: dt.datetime) -> Iterator[dt.datetime]:
        zone = _zone(self.timezone)
        anchor = self.anchor_date.astimezone(zone)
        if self.interval % dt.timedelta(days=1) == dt.timedelta(0):
            # Whole days: step in local wall-clock time so 09:00 stays 09:00 across DST.
            # The anchor only fixes the phase: dates before it count too.
            days = self.interval.days
            naive = anchor.replace(tzinfo=None)
            local_start = start.astimezone(zone).replace(tzinfo=None)
            skipped = (local_start - naive).days // days
            naive = _stepped(naive, dt.timedelta(days=days), skipped)
            while True:
                candidate = naive.replace(tzinfo=zone)
                if candidate >= start:
                    yield candidate.astimezone(dt.UTC)
                try:
                    naive += dt.timedelta(days=days)
                except OverflowError:
                    return  # the next date would be past year 9999
        else:
            # Shorter intervals step in absolute time.
            current = anchor.astimezone(dt.UTC)
            current = _stepped(current, self.interval, (start - current) // self.interval)
            while True:
                if current >= start:
                    yield current
                try:
                    current += self.interval
                except OverflowError:
                    return  # the next date would be past year 9999


@dataclass(frozen=True)
class CronSchedule:
    """A five-field cron expression evaluated in the schedule's time zone."""

    cron: str
    timezone: str | None  # null when not given (as the reference echoes it); read as UTC
    day_or: bool

    def to_json(self) -> dict[str, Any]:
        return {"cron": self.cron, "timezone": self.timezone, "day_or": self.day_or}

    def dates(self, start: dt.datetime) -> Iterator[dt.datetime]:
        zone = _zone(self.timezone)
        # croniter on aware datetimes handles DST: a skipped local time is skipped,
        # an ambiguous one fires once.
        iterator = croniter(self.cron, start.astimezone(zone) - dt.timedelta(microseconds=1), day_or=self.day_or)
        last_wall_clock: dt.datetime | None = None
        while True:
            value = iterator.get_next(dt.datetime)
            wall_clock = value.astimezone(zone).replace(tzinfo=None)
            # In the repeated hour of a fall-back change a time exists twice: fire once.
            if wall_clock != last_wall_clock:
                yield value.astimezone(dt.UTC)
            last_wall_clock = wall_clock


@dataclass(frozen=True)
class RRuleSchedule:
    """An RFC 5545 recurrence rule evaluated in the schedule's time zone.

    The rule's own ``DTSTART``/``UNTIL`` (and ``RDATE``/``EXDATE``) are read as wall-clock
    times in ``timezone``, whatever zone the text gives them, as the reference does; a
    rule without ``DTSTART`` starts at the time it is evaluated.
    """

    rrule: str
    timezone: str

    def to_json(self) -> dict[str, Any]:
        return {"rrule": self.rrule, "timezone": self.timezone}

    def dates(self, start: dt.datetime) -> Iterator[dt.datetime]:
        rule = localized_rrule(self.rrule, _zone(self.timezone))
        value: dt.datetime | None = rule.after(start, inc=True)
        while value is not None:
            yield value.astimezone(dt.UTC)
            value = rule.after(value, inc=False)


def localized_rrule(text: str, zone: ZoneInfo) -> dateutil_rrule.rrule | dateutil_rrule.rruleset:
    """The parsed rule with every date in it placed in ``zone`` (naive dates included)."""

    def place(value: dt.datetime) -> dt.datetime:
        return value.replace(tzinfo=zone)

    def localize(rule: dateutil_rrule.rrule) -> dateutil_rrule.rrule:
        changes: dict[str, Any] = {"dtstart": place(rule._dtstart)}  # type: ignore[attr-defined]
        if rule._until is not None:  # type: ignore[attr-defined]
            changes["until"] = place(rule._until)  # type: ignore[attr-defined]
        return rule.replace(**changes)  # type: ignore[no-any-return]

    parsed = dateutil_rrule.rrulestr(text)
    if isinstance(parsed, dateutil_rrule.rrule):
        return localize(parsed)
    # An rruleset keeps its parts in private lists; dateutil offers no public setter.
    parsed._rrule = [localize(rule) for rule in parsed._rrule]  # type: ignore[attr-defined]
    parsed._exrule = [localize(rule) for rule in parsed._exrule]  # type: ignore[attr-defined]
    parsed._rdate = [place(value) for value in parsed._rdate]  # type: ignore[attr-defined]
    parsed._exdate = [place(value) for value in parsed._exdate]  # type: ignore[attr-defined]
    return parsed


Schedule = IntervalSchedule | CronSchedule | RRuleSchedule

KEYS = {
    "interval": {"interval", "anchor_date", "timezone"},
    "cron": {"cron", "timezone", "day_or"},
    "rrule": {"rrule", "timezone"},
}


def parse_schedule(data: Any, *, now: dt.datetime | None = None) -> Schedule:
    """Validate a schedule JSON object into its typed form."""
    if not isinstance(data, dict):
        raise ScheduleError("value is not a valid dict", "type_error.dict")
    kind = next((key for key in ("interval", "cron", "rrule") if key in data), None)
    if kind is None:
        raise ScheduleError("value is not a valid schedule: expected an interval, cron or rrule key")
    extra = set(data) - KEYS[kind]
    if extra:
        raise ScheduleError(f"extra fields not permitted: {', '.join(sorted(extra))}", "value_error.extra")
    timezone = data.get("timezone")
    if timezone is not None:
        _zone(timezone)
    if kind == "interval":
        try:
            interval = duration_from_seconds(float(data["interval"]))
        except DurationRangeError as error:
            raise ScheduleError(error.message, error.error_type, key="interval") from None
        except (TypeError, ValueError, OverflowError):
            raise ScheduleError("invalid duration format", "type_error.timedelta") from None
        # Checked on the timedelta: a positive number below a microsecond rounds to zero.
        if interval <= dt.timedelta(0):
            raise ScheduleError("The interval must be positive")
        anchor = _parse_time(data["anchor_date"]) if data.get("anchor_date") else (now or dt.datetime.now(dt.UTC))
        # An anchor in JSON carries an offset, never a named zone: the reference reads
        # that as UTC (and so stores "UTC" when no zone is given).
        return IntervalSchedule(interval, anchor, timezone or "UTC")
    if kind == "cron":
        expression = str(data["cron"])
        if any(token in expression.upper().split() for token in ("R", "H")) or not croniter.is_valid(expression):
            raise ScheduleError(f'Invalid cron string: "{expression}"')
        if len(expression.split()) != 5:
            raise ScheduleError(f'Invalid cron string: "{expression}"')
        day_or = data.get("day_or", True)
        return CronSchedule(expression, timezone, bool(True if day_or is None else day_or))
    text = str(data["rrule"])
    if len(text) > MAX_RRULE_LENGTH:
        raise ScheduleError(f"Max length is {MAX_RRULE_LENGTH}, got {len(text)}")
    try:
        # Parsed the way dates() will read it, so an accepted rule never fails later.
        localized_rrule(text, _zone(timezone)).after(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    except (ValueError, TypeError):
        raise ScheduleError(f"Invalid RRule string '{text}'") from None
    return RRuleSchedule(text, timezone or "UTC")


def next_dates(schedule: Schedule, *, start: dt.datetime, end: dt.datetime | None = None, n: int) -> list[dt.datetime]:
    """Up to ``n`` dates at or after ``start`` (and before ``end``)."""
    dates: list[dt.datetime] = []
    for count, value in enumerate(schedule.dates(start)):
        if len(dates) >= n or count >= MAX_ITERATIONS or (end is not None and value >= end):
            break
        dates.append(value)
    return dates


def scheduled_times(
    schedule: Schedule,
    *,
    start_time: dt.datetime,
    end_time: dt.datetime,
    min_time: dt.timedelta,
    min_runs: int,
    max_runs: int,
) -> list[dt.datetime]:
    """The dates to schedule (reference §G.3): from ``start_time``, stopping at ``max_runs``
    or ``end_time``, and early once there are ``min_runs`` dates past ``start_time + min_time``."""
    dates: list[dt.datetime] = []
    horizon = add_clamped(start_time, min_time)
    try:
        for count, value in enumerate(schedule.dates(start_time)):
            if count >= MAX_ITERATIONS or len(dates) >= max_runs or value > end_time:
                break
            if len(dates) >= min_runs and value > horizon:
                break
            dates.append(value)
    except OverflowError:
        pass  # the schedule ran past year 9999: there are no later dates
    return dates
