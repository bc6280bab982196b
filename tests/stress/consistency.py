"""Checks that every run's history is consistent, after a soak or a crash.

For flow runs and task runs alike:

* state rows in time order: taken in the order they were written, their timestamps
  never go back;
* ``run_count`` equals the number of RUNNING rows;
* the run row's current state (``state_id``, ``state_type``, ``state_name``) is its last
  state row;

and no concurrency-limit slot is held by a task run that is finished or gone.

``python -m tests.stress.consistency`` checks the database of its environment
(``DATABASE_URL`` / ``ORION_DATA_DIR``) and prints ``{"runs": N, "problems": [...]}``.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from typing import Any


def history_problems() -> tuple[int, list[str]]:
    """(runs checked, one line per inconsistency); needs Django set up."""
    from runs_app.models import ConcurrencyLimit, FlowRun, FlowRunState, TaskRun, TaskRunState
    from runs_app.states import TERMINAL_STATE_TYPES, StateType

    problems: list[str] = []
    checked = 0
    kinds: list[tuple[str, Any, Any, str]] = [
        ("flow run", FlowRun, FlowRunState, "flow_run_id"),
        ("task run", TaskRun, TaskRunState, "task_run_id"),
    ]
    task_state_types: dict[str, str | None] = {}
    for label, run_model, state_model, key in kinds:
        states: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for row in state_model.objects.order_by(key, "created", "timestamp").values(
            key, "id", "type", "name", "timestamp"
        ):
            states[row[key]].append(row)
        for run in run_model.objects.values("id", "state_id", "state_type", "state_name", "run_count"):
            checked += 1
            rows = states.get(run["id"], [])
            if label == "task run":
                task_state_types[str(run["id"])] = run["state_type"]
            stamps = [row["timestamp"] for row in rows]
            if stamps != sorted(stamps):
                problems.append(f"{label} {run['id']}: state rows out of time order")
            running = sum(1 for row in rows if row["type"] == StateType.RUNNING)
            if run["run_count"] != running:
                problems.append(f"{label} {run['id']}: run_count {run['run_count']} but {running} RUNNING rows")
            if not rows:
                if run["state_id"] is not None or run["state_type"] is not None:
                    problems.append(f"{label} {run['id']}: has a state but no state rows")
                continue
            last = rows[-1]
            if (run["state_id"], run["state_type"], run["state_name"]) != (last["id"], last["type"], last["name"]):
                problems.append(
                    f"{label} {run['id']}: row says {run['state_type']}/{run['state_name']}, "
                    f"last state row is {last['type']}/{last['name']}"
                )
    for limit in ConcurrencyLimit.objects.values("tag", "active_slots"):
        for holder in limit["active_slots"] or []:
            state_type = task_state_types.get(str(holder), "gone")
            if state_type == "gone" or state_type in TERMINAL_STATE_TYPES:
                problems.append(f"limit {limit['tag']!r}: slot held by task run {holder} ({state_type})")
    return checked, problems


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orion_project.settings")
    import django

    django.setup()
    checked, problems = history_problems()
    print(json.dumps({"runs": checked, "problems": problems}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
