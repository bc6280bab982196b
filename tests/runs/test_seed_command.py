"""``manage.py orion_seed``: the benchmark's data set by bulk inserts, on small numbers."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from runs_app.models import FlowRun, FlowRunState, TaskRun
from runs_app.seeding.generate import FINAL_STATES, TaskShape

ANCHOR = "2024-03-01T12:00:00Z"


def seed(**options: object) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("orion_seed", anchor=ANCHOR, flows=10, no_vacuum=True, stdout=out, stderr=err, **options)
    return out.getvalue() + err.getvalue()


def test_task_shape_gives_the_requested_volume() -> None:
    assert TaskShape.for_total(20_000, None) == TaskShape(0.10, 5)
    shape = TaskShape.for_total(1_000_000, 5_000_000)
    assert shape.per_run == 7  # more than 5 per run, since only started runs get task runs
    assert 4_900_000 <= 1_000_000 * shape.share * shape.per_run <= 5_000_000
    assert TaskShape.for_total(10, 0).share == 0.0


@pytest.mark.django_db(transaction=True)
def test_seeds_runs_states_and_task_runs_through_the_api(api) -> None:  # type: ignore[no-untyped-def]
    output = seed(runs=400, task_runs=600)

    assert "100.0%" in output  # the progress bar reached the end
    assert api.post("/flow_runs/count", {}).json() == 400
    task_runs = api.post("/task_runs/count", {}).json()
    assert 420 <= task_runs <= 780, task_runs  # which of 400 runs get task runs is drawn
    # Every run's denormalised state is its newest state row.
    for run in FlowRun.objects.select_related("state")[:50]:
        newest = FlowRunState.objects.filter(flow_run=run).order_by("-timestamp").first()
        assert newest is not None and run.state_id == newest.id and run.state_type == newest.type
    # The shares of final states are those of the API seed (loosely, on 400 runs).
    shares = Counter(FlowRun.objects.values_list("state_type", flat=True))
    for state_type, share in FINAL_STATES:
        assert abs(shares[state_type] / 400 - share) < 0.08, (state_type, shares)
    # Task runs only belong to runs that started.
    assert not TaskRun.objects.filter(flow_run__start_time__isnull=True).exists()
    one = api.post("/flow_runs/filter", {"sort": "EXPECTED_START_TIME_DESC", "limit": 1}).json()[0]
    assert one["expected_start_time"] <= "2024-03-01T12:00:00+00:00"


@pytest.mark.django_db(transaction=True)
def test_seeding_again_tops_up_without_duplicates() -> None:
    seed(runs=150)
    ids = set(FlowRun.objects.values_list("id", flat=True))
    seed(runs=150)
    assert set(FlowRun.objects.values_list("id", flat=True)) == ids
    seed(runs=260)
    assert FlowRun.objects.count() == 260
    assert ids <= set(FlowRun.objects.values_list("id", flat=True))


@pytest.mark.django_db
def test_bad_arguments_are_refused() -> None:
    with pytest.raises(CommandError):
        seed(runs=-1)
    with pytest.raises(CommandError, match="anchor"):
        call_command("orion_seed", anchor="yesterday", runs=1, stdout=io.StringIO())
