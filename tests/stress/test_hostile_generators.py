"""The fuzzer's hostile generators still draw the shapes that once broke the server.

A strategy that quietly stops producing, say, values nested 1,000 levels deep makes the
fuzz run green and useless; these tests fail instead. No server is involved.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.stress import hostile
from tests.stress.fuzz import GATE_CHECKS
from tests.stress.readback import first_difference

SAMPLES = 200


def sample(strategy: st.SearchStrategy[Any], count: int = SAMPLES) -> list[Any]:
    """``count`` values ``strategy`` draws, seeded: the same ones on every run."""
    values: list[Any] = []

    @seed(19)
    @settings(
        database=None,
        max_examples=count,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        values.append(value)

    collect()
    return values


BODY: dict[str, Any] = {
    "parameters": {},
    "flow_runs": {"start_time": {"before_": "2024-01-01T00:00:00Z"}, "name": {"like_": "a"}},
    "schedule": {"interval": 60},
    "name": "kept",
}

# Each strategy's sample, drawn once for all the tests that look at it.
SAMPLED: dict[str, list[Any]] = {}
STRATEGIES: dict[str, Any] = {
    "json": hostile.hostile_json,
    "deep": hostile.deep_json,
    "datetimes": hostile.hostile_datetimes,
    "numbers": hostile.hostile_numbers,
    "patterns": hostile.long_patterns,
    "body": lambda: hostile.mutated(BODY),
}


def drawn(name: str, condition: Any) -> Any:
    """The first sampled value of strategy ``name`` meeting ``condition`` (fails on none)."""
    if name not in SAMPLED:
        SAMPLED[name] = sample(STRATEGIES[name]())
    found = [value for value in SAMPLED[name] if condition(value)]
    assert found, f"the {name} strategy no longer draws such a value"
    return found[0]


def scalars(value: Any) -> list[Any]:
    return list(hostile.scalars_of(value))


def test_free_form_json_goes_deep_within_bounds() -> None:
    deepest = drawn("json", lambda value: hostile.depth_of(value) > 1_000)
    shallowest = drawn("deep", lambda value: hostile.depth_of(value) < 300)
    assert hostile.depth_of(deepest) <= hostile.MAX_DEPTH + 1
    assert hostile.depth_of(shallowest) >= hostile.MIN_DEPTH
    # Python's encoder can send the deepest of them once the fuzzer raised its limit.
    assert hostile.encode(hostile.nested(hostile.MAX_DEPTH, 1)).count(b"[") == hostile.MAX_DEPTH // 2


@pytest.mark.parametrize(
    ("label", "condition"),
    [
        ("an integer past 64 bits", lambda s: isinstance(s, int) and not isinstance(s, bool) and abs(s) >= 10**40),
        ("a negative integer past 64 bits", lambda s: isinstance(s, int) and s < -(2**63)),
        ("a NUL character", lambda s: isinstance(s, str) and "\x00" in s),
        ("a long string", lambda s: isinstance(s, str) and len(s) >= hostile.LONG_TEXT),
    ],
)
def test_free_form_json_holds_hostile_scalars(label: str, condition: Any) -> None:
    assert drawn("json", lambda value: any(condition(item) for item in scalars(value))), label


def test_deep_json_holds_a_nul_at_the_bottom() -> None:
    found = drawn(
        "deep",
        lambda value: (
            hostile.depth_of(value) >= 1_000
            and any(isinstance(item, str) and "\x00" in item for item in scalars(value))
        ),
    )
    assert hostile.depth_of(found) >= 1_000


def is_text(prefix: str, sign: str) -> Any:
    return lambda value: isinstance(value, str) and value.startswith(prefix) and value[-6] == sign


@pytest.mark.parametrize(
    ("label", "condition"),
    [
        ("the last day with the largest negative offset", is_text("9999-12-31T23:59:59", "-")),
        ("the first day with the largest positive offset", is_text("0001-01-01T00:00:00", "+")),
        ("an epoch number past year 9999", lambda value: isinstance(value, float) and value >= 1e20),
        ("an epoch number before year 1", lambda value: isinstance(value, int | float) and value < -62135596800),
    ],
)
def test_datetimes_reach_the_calendar_edges_and_epoch_numbers(label: str, condition: Any) -> None:
    assert drawn("datetimes", condition), label


@pytest.mark.parametrize(
    ("label", "condition"),
    [
        ("1e30 and beyond", lambda value: isinstance(value, float) and value >= 1e30),
        ("-1", lambda value: value == -1),
        ("an integer past 64 bits", lambda value: isinstance(value, int) and value >= 2**64),
    ],
)
def test_numbers_reach_the_extremes(label: str, condition: Any) -> None:
    assert drawn("numbers", condition), label


def test_like_patterns_pass_sqlites_limit() -> None:
    assert drawn("patterns", lambda text: "%" in text)
    assert min(len(pattern) for pattern in SAMPLED["patterns"]) > 50_000


def test_bodies_get_hostile_values_at_any_depth() -> None:
    """The schemathesis hook's mutation reaches free-form, datetime, number and pattern keys."""
    deep = drawn("body", lambda value: hostile.depth_of(value["parameters"]) >= hostile.MIN_DEPTH)
    edge = drawn(
        "body", lambda value: value["flow_runs"]["start_time"]["before_"] != BODY["flow_runs"]["start_time"]["before_"]
    )
    huge = drawn("body", lambda value: value["schedule"]["interval"] != 60)
    long = drawn("body", lambda value: len(value["flow_runs"]["name"]["like_"]) > 50_000)
    assert {deep["name"], edge["name"], huge["name"], long["name"]} == {"kept"}


def test_read_back_tells_integers_from_floats() -> None:
    assert first_difference({"n": 10**40}, {"n": 1e40}) == (
        "int became float",
        f"at /n: sent {10**40}, got 1e+40",
    )
    assert first_difference({"n": [1, {"a": "\x00"}]}, {"n": [1, {"a": "\x00"}]}) is None
    assert first_difference(hostile.nested(1_100, 1), hostile.nested(1_100, 1)) is None


def test_the_fuzz_gate_reads_creates_back() -> None:
    assert "created_is_readable" in GATE_CHECKS.split(",")
    assert "not_a_server_error" in GATE_CHECKS.split(",")


def test_a_float_written_as_a_whole_number_may_come_back_as_that_integer() -> None:
    """PostgreSQL's jsonb keeps 1e+308 as the integer it stands for (the reference's
    PostgreSQL does the same); a float that changed value, or an int that became a
    float, is still a difference."""
    assert first_difference({"v": 1e308}, {"v": 10**308}) is None
    assert first_difference({"v": 1500.0}, {"v": 1500}) is None
    assert first_difference({"v": 1.5}, {"v": 1}) is not None
    assert first_difference({"v": 1}, {"v": 1.0}) is not None
