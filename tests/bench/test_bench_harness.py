"""The benchmark harness's pieces, fast and without servers (the benchmarks themselves
run only from ``make bench*``, never in CI)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench import load, report
from bench.compare import Pooled
from runs_app.seeding.write import copy_text


class FakeClient:
    """Answers ``json`` calls from a table, as a server would."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def json(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        return self.answers[path]


def fixtures(**values: Any) -> load.Fixtures:
    fx = load.Fixtures(run_ids=["a"], runs_with_tasks=["a"], flow_ids=["f"], like="etl", tags=["prod", "etl"])
    for key, value in values.items():
        setattr(fx, key, value)
    return fx


def test_a_wrong_count_is_an_error_not_a_request() -> None:
    fx = fixtures(completed_count=10)
    load.count_by_state(FakeClient({"/flow_runs/count": 10}), random.Random(1), fx)  # type: ignore[arg-type]
    with pytest.raises(load.RequestFailed, match="wrong answer"):
        load.count_by_state(FakeClient({"/flow_runs/count": 11}), random.Random(1), fx)  # type: ignore[arg-type]


def test_history_total_and_nested_rows_are_checked() -> None:
    fx = fixtures(history_total=3, history_window=("2024-01-01T00:00:00+00:00", "2024-01-31T00:00:00+00:00"))
    intervals = [{"states": [{"count_runs": 2}]}, {"states": [{"count_runs": 1}]}]
    load.history_30_days(FakeClient({"/flow_runs/history": intervals}), random.Random(1), fx)  # type: ignore[arg-type]
    with pytest.raises(load.RequestFailed):
        load.history_30_days(FakeClient({"/flow_runs/history": intervals[:1]}), random.Random(1), fx)  # type: ignore[arg-type]
    recent = dt.datetime.now(dt.UTC).isoformat()
    good = {"state_type": "FAILED", "tags": ["prod", "etl", "x"], "expected_start_time": recent}
    bad = {**good, "state_type": "COMPLETED"}
    nested = load.nested_filter(None)
    nested(FakeClient({"/flow_runs/filter": [good]}), random.Random(1), fx)  # type: ignore[arg-type]
    with pytest.raises(load.RequestFailed):
        nested(FakeClient({"/flow_runs/filter": [good, bad]}), random.Random(1), fx)  # type: ignore[arg-type]


def test_run_workload_counts_only_right_answers_in_the_window() -> None:
    calls = [0]

    def work(client: Any, rng: random.Random, fx: load.Fixtures) -> None:
        calls[0] += 1
        if calls[0] % 3 == 0:
            raise load.RequestFailed("wrong answer: every third")

    result = load.run_workload(
        "fake", work, target=("127.0.0.1", 9, "/api"), fixtures=fixtures(), concurrency=2,
        seconds=0.3, warmup=0.05, timeout=1, max_requests=500, seed=1,
    )  # fmt: skip
    assert result.errors > 0 and result.first_error == "wrong answer: every third"
    assert 0 < result.done + result.errors <= 500
    assert result.done >= 2 * result.errors - 2  # two right answers for each wrong one


def test_only_loopback_targets() -> None:
    assert load.parse_target("http://127.0.0.1:4420/api") == ("127.0.0.1", 4420, "/api")
    with pytest.raises(SystemExit):
        load.parse_target("http://example.com/api")


def test_pooled_rounds_and_the_comparison_table() -> None:
    a, b = SimpleNamespace(name="a"), SimpleNamespace(name="b")
    pooled = {("a", "s"): Pooled(), ("b", "s"): Pooled(), ("a", "t"): Pooled(), ("b", "t"): Pooled()}
    for side, rate in (("a", 40), ("b", 10)):  # ratio 4 on s
        for _ in range(2):
            pooled[(side, "s")].add({"requests": rate, "seconds": 1.0, "errors": 0, "latencies": [0.01] * rate})
    for side, rate in (("a", 10), ("b", 40)):  # ratio 0.25 on t
        pooled[(side, "t")].add({"requests": rate, "seconds": 1.0, "errors": 0, "latencies": [0.02] * rate})
    assert pooled[("a", "s")].rate == 40 and pooled[("a", "s")].percentile(0.99) == pytest.approx(10.0)
    table = report.comparison_table([a, b], ["s", "t"], pooled)
    assert "| s | 4.00 |" in table and "| t | 0.25 |" in table
    assert "**geometric mean** | **1.00**" in table


def test_sections_are_replaced_and_serving_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "performance.md"
    report.update_section(path, report.ALONE_TITLE, "first figures")
    serving = "## Serving\n\nWritten by hand: gunicorn, 2 workers.\n"
    path.write_text(path.read_text() + "\n" + serving)
    report.update_section(path, report.ALONE_TITLE, "second figures")
    report.update_section(path, report.COMPARE_TITLE, "side by side")
    text = path.read_text()
    assert "first figures" not in text and "second figures" in text and "side by side" in text
    assert serving in text
    assert text.count(f"## {report.ALONE_TITLE}") == 1


def test_copy_text_escapes_what_copy_would_misread() -> None:
    assert copy_text(None) == "\\N"
    assert copy_text("a\tb\nc\\") == "a\\tb\\nc\\\\"
    assert copy_text(dt.timedelta(seconds=90)) == "90.000000 seconds"
    assert copy_text(["prod", "etl"]) == '["prod","etl"]'


def test_the_seeder_starts_before_django_is_set_up() -> None:
    """``bench.seed`` (what ``make bench-compare`` seeds with) sets Django up only after it
    has generated its rows, so nothing it imports at module level may load a model."""
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "bench.seed", "--help"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_scale_curve_has_a_column_per_size_and_marks_a_missed_budget() -> None:
    from bench import scale

    args = SimpleNamespace(concurrency="1,8", only="read one run,dashboard page")
    sizes = []
    for label, seconds in (("1M", 0.010), ("10M", 0.030)):
        size = scale.Size(label, 1, 1)
        for name in scale.scenarios(args):  # type: ignore[arg-type]
            for level in (1, 8):
                pooled = Pooled()
                pooled.add({"requests": 10, "seconds": 1.0, "errors": 0, "latencies": [seconds * level] * 10})
                size.results[(name, level)] = pooled
        sizes.append(size)
    table = scale.curve_table(sizes, args)  # type: ignore[arg-type]
    assert "| scenario | p50 budget ms (1 / 8 in flight) | 1M: p50 ms | 1M: CPU ms/req | 10M: p50 ms |" in table
    # read one: 10 ms and 80 ms at 1M (80 is not under 80), 30 and 240 ms at 10M
    assert "| read one run | 20 / 80 | 10.0 / **80.0** | — / — | **30.0** / **240.0** | — / — |" in table
    assert "| dashboard page | 150 / 600 | 10.0 / 80.0 |" in table
    assert [scale.size_label(n) for n in (1_000_000, 3_000_000, 10_000_000, 20_000)] == ["1M", "3M", "10M", "20k"]
    assert set(scale.BUDGETS_MS) == set(scale.LOADED_BUDGETS_MS) == set(scale.SCENARIOS)
