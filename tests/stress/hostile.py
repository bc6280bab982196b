"""Hostile values for the fuzzer: the shapes a schema-driven generator almost never draws.

A JSON schema says ``parameters`` is "an object" and ``start_time`` "a date-time", and a
generator walking it produces shallow objects, small integers and datetimes near today.
The inputs that broke the server were the other end of those ranges: objects nested
hundreds of levels deep, integers past 64 bits, NUL characters, datetimes at the ends of
the calendar with the largest offsets, epoch numbers like ``1e20``, ``interval: 1e30``,
a ``like_`` pattern of 50,000 characters. These strategies draw them; the schemathesis hooks
(``fuzz_hooks``) and the hostile phase (``hostile_phase``) put them in requests, and
``test_hostile_generators`` keeps them from being lost.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from hypothesis import strategies as st

# Nesting deep enough to pass any fixed recursion budget of a parser or a database's JSON
# functions, and still serialisable by Python's own encoder once the limit below is raised.
MIN_DEPTH = 200
MAX_DEPTH = 1100
HUGE_INTS = (10**40, -(10**40), 2**63, -(2**63) - 1, 2**64, 10**19)
LONG_TEXT = 60_000

# Keys whose value is free-form JSON on some route (a dict or list of anything).
FREE_FORM_KEYS = frozenset(
    {
        "parameters",
        "context",
        "data",
        "job_variables",
        "infra_overrides",
        "base_job_template",
        "metadata_",
        "parameter_openapi_schema",
        "task_inputs",
        "empirical_policy",
        "state_details",
        "values",
        "value",
        "fields",
        "run_input",
    }
)
# Keys holding a datetime (a filter's ``before_``/``after_`` included).
DATETIME_KEYS = frozenset(
    {
        "before_",
        "after_",
        "start_time",
        "end_time",
        "expected_start_time",
        "next_scheduled_start_time",
        "timestamp",
        "scheduled_time",
        "scheduled_before",
        "scheduled_after",
        "history_start",
        "history_end",
        "cache_expiration",
        "pause_timeout",
        "last_polled",
        "anchor_date",
    }
)
# Keys holding a number a route does arithmetic with.
NUMBER_KEYS = frozenset(
    {
        "interval",
        "min_time",
        "min_runs",
        "max_runs",
        "limit",
        "offset",
        "history_interval_seconds",
        "retry_delay_seconds",
        "retry_delay",
        "retries",
        "max_retries",
        "concurrency_limit",
        "priority",
        "slot_decay_per_second",
        "occupancy_seconds",
        "level",
    }
)
# Keys whose value is a ``like_`` pattern.
PATTERN_KEYS = frozenset({"like_"})


@contextlib.contextmanager
def deep_values() -> Iterator[None]:
    """Let Python's JSON encoder and decoder handle the deepest values drawn here, for a while.

    Only for a while: tests that call the server in-process must see its own limit.
    """
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, 20 * MAX_DEPTH))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def nested(depth: int, leaf: Any, kind: str = "mixed") -> Any:
    """``leaf`` wrapped in ``depth`` containers: dicts, lists or both alternately."""
    value = leaf
    for level in range(depth):
        as_dict = kind == "dict" or (kind == "mixed" and level % 2 == 0)
        value = {"k": value} if as_dict else [value]
    return value


def depth_of(value: Any) -> int:
    """How many containers deep ``value`` goes (iterative: safe on any depth)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, Mapping):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def scalars_of(value: Any) -> Iterable[Any]:
    """Every scalar inside ``value``, dict keys included (iterative)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            yield item


def huge_ints() -> st.SearchStrategy[int]:
    return st.sampled_from(HUGE_INTS) | st.integers(min_value=2**63, max_value=10**40).map(
        lambda number: number if number % 2 else -number
    )


def nul_strings() -> st.SearchStrategy[str]:
    return st.sampled_from(["\x00", "a\x00b", "\x00" * 3]) | st.text(max_size=8).map(lambda text: f"{text}\x00{text}")


def long_strings() -> st.SearchStrategy[str]:
    return st.integers(min_value=LONG_TEXT, max_value=LONG_TEXT + 5_000).map(lambda size: "x" * size)


def hostile_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        huge_ints(), nul_strings(), st.sampled_from([1e308, -1e308, 5e-324, "", "\ud7ff\ue000"]), long_strings()
    )


def deep_json(min_depth: int = MIN_DEPTH, max_depth: int = MAX_DEPTH) -> st.SearchStrategy[Any]:
    """A value nested ``min_depth``..``max_depth`` levels, with a hostile scalar at the bottom."""
    return st.builds(
        nested,
        st.integers(min_value=min_depth, max_value=max_depth),
        st.one_of(huge_ints(), nul_strings(), st.just(1), st.just("leaf")),
        st.sampled_from(["mixed", "dict", "list"]),
    )


def hostile_json() -> st.SearchStrategy[Any]:
    """Free-form JSON (an object, as the routes taking one expect) holding hostile values."""
    shallow = st.dictionaries(st.one_of(st.text(max_size=5), nul_strings()), hostile_scalars(), min_size=1, max_size=4)
    return st.one_of(deep_json().map(lambda value: {"deep": value}), shallow)


# Calendar edges and the largest offsets an ISO 8601 parser accepts; every combination is
# a legal timestamp whose UTC value may fall outside years 1..9999.
CALENDAR_EDGES = (
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59.999999",
    "2000-02-29T12:00:00",
    "1970-01-01T00:00:00",
)
OFFSETS = ("+23:59", "-23:59", "+14:00", "-12:00", "Z", "")
EPOCH_NUMBERS = (1e20, -1e20, 1e308, -1e308, 253402300800, -62135596801, 7e278)


def hostile_datetimes() -> st.SearchStrategy[Any]:
    """Datetime strings at the calendar's ends with extreme offsets, and epoch numbers."""
    text = st.builds(lambda edge, offset: edge + offset, st.sampled_from(CALENDAR_EDGES), st.sampled_from(OFFSETS))
    return text | st.sampled_from(EPOCH_NUMBERS)


EXTREME_NUMBERS = (1e30, -1e30, 7e278, 1e308, -1, 0, 2**63, 10**40, -(10**40), 1e20)


def hostile_numbers() -> st.SearchStrategy[Any]:
    return st.sampled_from(EXTREME_NUMBERS)


def long_patterns() -> st.SearchStrategy[str]:
    """``like_`` patterns longer than SQLite's LIKE limit (50,000 bytes), some of wildcards."""
    return st.builds(
        lambda size, char: char * size, st.integers(min_value=50_001, max_value=70_000), st.sampled_from("a%_\\")
    )


def for_key(key: str) -> st.SearchStrategy[Any] | None:
    """The hostile strategy for a body key, or ``None`` when the key has none."""
    if key in FREE_FORM_KEYS:
        return hostile_json()
    if key in DATETIME_KEYS:
        return hostile_datetimes()
    if key in NUMBER_KEYS:
        return hostile_numbers()
    if key in PATTERN_KEYS:
        return long_patterns()
    return None


def mutated(value: Any) -> st.SearchStrategy[Any]:
    """``value`` with any of its known keys, at any depth, possibly given a hostile value."""
    if isinstance(value, dict):
        fields: dict[str, st.SearchStrategy[Any]] = {}
        for key, item in value.items():
            hostile = for_key(key) if isinstance(key, str) else None
            kept = mutated(item)
            # A filter's ``start_time`` is an object of bounds: its bounds get the values.
            if hostile is not None and (key in FREE_FORM_KEYS or not isinstance(item, dict | list)):
                kept = st.one_of(kept, hostile)
            fields[key] = kept
        return st.fixed_dictionaries(fields)
    if isinstance(value, list):
        return st.tuples(*(mutated(item) for item in value)).map(list)
    return st.just(value)


def encode(value: Any) -> bytes:
    """JSON bytes of any drawn value, however deep."""
    with deep_values():
        return json.dumps(value, allow_nan=False).encode()


def decode(raw: bytes) -> Any:
    """The value of JSON bytes, however deep."""
    with deep_values():
        return json.loads(raw)
