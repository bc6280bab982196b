"""Dates and durations the API accepts, and arithmetic on them that saturates at the
calendar's ends instead of raising.

Requests may name any moment whose UTC time Python can hold (year 1 to 9999, which both
databases store: PostgreSQL's ``timestamptz`` reaches far wider, SQLite keeps ISO text)
and durations up to :data:`MAX_DURATION_SECONDS`. Values past those bounds are refused
where they are parsed (:func:`parse_datetime`, :func:`duration_from_seconds`), so no
later arithmetic or database write meets them; sums of accepted values that leave the
calendar stand for "the end of time" (or its beginning), which is what every caller
means by them (:func:`add_clamped`).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from dateutil import parser as date_parser

EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)

# The longest duration Python's ``timedelta`` holds; longer ones would overflow later.
# A day short of ``timedelta.max``: its own float total_seconds() rounds up past what
# timedelta(seconds=...) accepts (found by the fuzz gate as a 500 on /task_runs/history).
MAX_DURATION_SECONDS = float(dt.timedelta.max.days - 1) * 86400

DATETIME_RANGE_MESSAGE = "datetime out of range: its UTC time must fall in the years 1 to 9999"


class DateTimeFormatError(ValueError):
    """Text (or a value of another type) that is not a datetime at all."""


class DateTimeRangeError(ValueError):
    """A datetime, or epoch seconds, whose UTC time lies outside the years 1 to 9999."""

    def __init__(self) -> None:
        super().__init__(DATETIME_RANGE_MESSAGE)


class DurationRangeError(ValueError):
    """A duration that is not a finite number of seconds within ±:data:`MAX_DURATION_SECONDS`;
    ``message`` and ``error_type`` are pydantic's wording for the bound it broke."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


def parse_datetime(data: Any, *, keep_offset: bool = False) -> dt.datetime:
    """ISO-8601 text, epoch seconds or a datetime as an aware UTC datetime (naive = UTC);
    with ``keep_offset`` an aware value keeps the offset it was given in.

    Raises :class:`DateTimeFormatError` for what is not a datetime and
    :class:`DateTimeRangeError` for one whose UTC time leaves the calendar
    (``9999-12-31T23:59:59-23:59``, epoch ``1e20``).
    """
    if isinstance(data, dt.datetime):
        value = data
    elif isinstance(data, bool):
        raise DateTimeFormatError(data)
    elif isinstance(data, (int, float)):
        try:
            return dt.datetime.fromtimestamp(data, tz=dt.UTC)
        except (OverflowError, ValueError, OSError):
            raise DateTimeRangeError from None
    elif isinstance(data, str):
        value = _parse_iso(data)
    else:
        raise DateTimeFormatError(data)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        raise DateTimeRangeError from None
    return value if keep_offset else utc


def _parse_iso(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return date_parser.isoparse(text)
    except (ValueError, OverflowError):
        raise DateTimeFormatError(text) from None


def duration_from_seconds(seconds: float) -> dt.timedelta:
    """A number of seconds as a ``timedelta``, or :class:`DurationRangeError` when it is
    not finite or longer than :data:`MAX_DURATION_SECONDS` either way (an ``int`` of any
    size is compared exactly, never converted first)."""
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise DurationRangeError("value is not a valid float", "type_error.float")
    if seconds > MAX_DURATION_SECONDS:
        raise DurationRangeError(
            f"ensure this value is less than or equal to {MAX_DURATION_SECONDS}", "value_error.number.not_le"
        )
    if seconds < -MAX_DURATION_SECONDS:
        raise DurationRangeError(
            f"ensure this value is greater than or equal to {-MAX_DURATION_SECONDS}", "value_error.number.not_ge"
        )
    return dt.timedelta(seconds=seconds)


def add_seconds_clamped(moment: dt.datetime, seconds: float) -> dt.datetime:
    """``moment`` plus a number of seconds, saturating like :func:`add_clamped` (for delays
    computed from stored policies, which may predate the bounds on them)."""
    try:
        delta = duration_from_seconds(seconds)
    except DurationRangeError:
        return LATEST if seconds > 0 else EARLIEST if seconds < 0 else moment
    return add_clamped(moment, delta)


def add_clamped(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """``moment + delta``, or the first/last representable moment when that overflows."""
    try:
        return moment + delta
    except OverflowError:
        return LATEST if delta > dt.timedelta(0) else EARLIEST
