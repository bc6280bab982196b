"""Date arithmetic that saturates at the calendar's ends instead of raising.

Requests may name any date Python can hold (year 1 to 9999) and durations up to
``timedelta.max``; sums of the two that leave the calendar stand for "the end of time"
(or its beginning), which is what every caller means by them.
"""

from __future__ import annotations

import datetime as dt

EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


def add_clamped(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """``moment + delta``, or the first/last representable moment when that overflows."""
    try:
        return moment + delta
    except OverflowError:
        return LATEST if delta > dt.timedelta(0) else EARLIEST
