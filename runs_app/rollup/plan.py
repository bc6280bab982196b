"""How a history request splits between the rollup's units (hours, minutes) and the runs.

Each interval of a history takes the whole units whose middle it holds; of a unit an
interval bound cuts, the part outside the interval that took it is read more finely and
moved back. :mod:`runs_app.selectors.history` reads the rows and the runs this plan names.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass

from orion_project.clock import add_clamped
from runs_app.rollup.writes import MINUTE, bucket_of, minute_of


def _ceil(moment: dt.datetime, unit: dt.timedelta) -> dt.datetime:
    """The first rollup ``unit`` (hour or minute) starting at or after ``moment``."""
    floor = _floor(moment, unit)
    return floor if floor == moment else add_clamped(floor, unit)


def _floor(moment: dt.datetime, unit: dt.timedelta) -> dt.datetime:
    return minute_of(moment) if unit == MINUTE else bucket_of(moment)


# A unit is taken by the interval holding its middle only when the middle is this far
# from the interval's bounds, so float rounding of epoch seconds in SQL cannot put it in
# the neighbouring interval; a unit cut nearer its middle is read at the finer level.
MIDDLE_MARGIN = dt.timedelta(seconds=1)

Region = tuple[dt.datetime, dt.datetime, int]  # [lower, upper) within interval ``index``


@dataclass(frozen=True)
class Taker:
    """How a history request splits between the rollup's rows of one ``unit`` (hours,
    or minutes) and what is left to read more finely.

    ``taken``: ``(first unit, end, interval)``, the range of whole units each region
    takes, in order; ``read``: the merged ranges of expected start left: the parts of
    regions no taken unit covers, and the parts of a region's taken units that lie
    outside it (moved back, see :meth:`__call__`).
    """

    unit: dt.timedelta
    taken: list[tuple[dt.datetime, dt.datetime, int]]
    read: list[tuple[dt.datetime, dt.datetime]]

    @classmethod
    def of(cls, unit: dt.timedelta, regions: list[Region], now: dt.datetime) -> Taker:
        half = unit / 2
        taken: list[tuple[dt.datetime, dt.datetime, int]] = []
        pieces: list[tuple[dt.datetime, dt.datetime]] = []
        # The unit ``now`` is in, unless ``now`` starts it: before it, every run not started
        # yet is late; after it, none is (so a unit's lateness follows from its sums).
        current = (_floor(now, unit), _ceil(now, unit))
        for lower, upper, index in regions:
            # Units u with lower + margin <= u + unit / 2 < upper - margin, but the current one.
            # Clamped: a region that starts in the first half unit of year 1 would step
            # before the calendar.
            first = _ceil(add_clamped(lower, MIDDLE_MARGIN - half), unit)
            last = _ceil(add_clamped(upper, -MIDDLE_MARGIN - half), unit)
            ranges = [(first, min(last, current[0])), (max(first, current[1]), last)]
            covered = lower
            for start, end in (taken_range for taken_range in ranges if taken_range[0] < taken_range[1]):
                taken.append((start, end, index))
                # What the region has outside its units, and what its units have outside it
                # (inside a neighbour's part, or outside the window).
                pieces += [(covered, start), (start, lower), (upper, end)]
                covered = max(covered, end)
            pieces.append((covered, upper))
        read: list[tuple[dt.datetime, dt.datetime]] = []
        for lower, upper in sorted(piece for piece in pieces if piece[0] < piece[1]):
            if read and read[-1][1] >= lower:
                read[-1] = (read[-1][0], max(read[-1][1], upper))
            else:
                read.append((lower, upper))
        return cls(unit, sorted(taken), read)

    def __call__(self, moment: dt.datetime) -> int | None:
        """The interval that took the unit starting at ``moment``, if one did."""
        position = bisect.bisect_right(self.taken, moment, key=lambda taken: taken[0]) - 1
        if position >= 0 and moment < self.taken[position][1]:
            return self.taken[position][2]
        return None

    def taken_ranges(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """The taken units as few ranges as they make: adjacent ranges (the usual case:
        each interval's units start where the previous one's end) are one."""
        merged: list[tuple[dt.datetime, dt.datetime]] = []
        for first, last, _ in self.taken:
            if merged and merged[-1][1] == first:
                merged[-1] = (merged[-1][0], last)
            else:
                merged.append((first, last))
        return merged


@dataclass(frozen=True)
class MinuteOrHourTaker:
    """For a run read from the table, grouped by its minute: what counted it before it
    was read, the interval that took its minute or else the one that took its hour."""

    minutes: Taker
    hours: Taker
    unit: dt.timedelta = MINUTE

    def __call__(self, minute: dt.datetime) -> int | None:
        taken_by = self.minutes(minute)
        return self.hours(bucket_of(minute)) if taken_by is None else taken_by


def split_at_bounds(
    ranges: list[tuple[dt.datetime, dt.datetime]], bounds: list[tuple[dt.datetime, dt.datetime]]
) -> list[Region]:
    """``ranges`` cut at every interval bound, each piece with the interval it is in
    (-1 before the window, ``len(bounds)`` after it)."""
    points = [bounds[0][0], *(upper for _, upper in bounds)]
    regions: list[Region] = []
    for lower, upper in ranges:
        cuts = [point for point in points if lower < point < upper]
        for piece_lower, piece_upper in zip([lower, *cuts], [*cuts, upper], strict=True):
            regions.append((piece_lower, piece_upper, bisect.bisect_right(points, piece_lower) - 1))
    return regions
