"""The data set of ``manage.py orion_seed`` and of the benchmark (``python -m bench.seed``).

* ``--flows`` flows named ``<kind>-<adjective>-<nnn>`` (kinds etl/ingest/report/train/sync,
  so ``like_: "etl"`` matches a fifth of them), each tagged with an environment and its kind.
* ``--runs`` flow runs whose expected start times are spread uniformly over the 30 days
  before ``--anchor`` (default: now, truncated to the minute). Final state types: 54 %
  COMPLETED, 14 % FAILED, 14 % SCHEDULED, 3 % PENDING, 3 % RUNNING, 6 % CRASHED,
  6 % CANCELLED. Each run gets 1-3 ``FlowRunState`` rows, and its denormalised columns
  (state_type/name/timestamp, expected/next-scheduled/start/end times, total_run_time,
  run_count, ``state`` FK) are computed by replaying those states through the same rules
  as ``runs_app.orchestration.bookkeeping``. Scheduled runs in the past carry the "Late"
  state the late-runs service would have written.
* About 10 % of runs (only runs that started) have 5 task runs with one state row each.
* Run tags: the flow's tags plus, for 30 % of runs, one of a few extra tags.

``production=True`` (``orion_seed --production``) shapes the data like a busy server's
instead, from random streams of its own (the default data set stays as it was): flows
with similar names (``<kind>-<team>-<object>-<nnnn>``, so a name search matches many
flows), runs of schedules in bursts sharing one start time on the hour or half hour
(a few a fraction of a second off it), extra tags of varied selectivity (0.5 % to 25 %
of runs each), most RUNNING runs started in the last hour and the others running for
days, and most SCHEDULED runs in the 3 days after the anchor (not late) while the
others are late.

Determinism: runs are generated in chunks of 5,000, each from its own ``random.Random``
seeded with ``(--seed, chunk)``; ids are drawn from the same generator. Running again
with a larger ``--runs`` only inserts the missing runs, so seeding 20k and then 1M gives
the same rows as seeding 1M at once (up to the anchor, which moves with the clock).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from runs_app.empirical_policy import FLOW_RUN_POLICY_DEFAULTS, TASK_RUN_POLICY_DEFAULTS
from runs_app.orchestration.timing import advance_run_timing
from runs_app.states import StateName, StateType, default_state_name

CHUNK = 5_000
# ``orion_project.models.DEFAULT_WORKSPACE_ID``, not imported: the generator also runs
# without Django (``bench.seed.seed_reference``); a test keeps the two equal.
DEFAULT_WORKSPACE_ID = 1
DAYS = 30
FLOW_KINDS = ("etl", "ingest", "report", "train", "sync")
KIND_TAG = {"etl": "etl", "ingest": "ingest", "report": "reporting", "train": "ml", "sync": "sync"}
ENVIRONMENTS = (("prod", 0.5), ("staging", 0.3), ("dev", 0.2))
EXTRA_TAGS = ("nightly", "hourly", "critical", "team-a", "team-b")
# Final state type of a run and its share (PERFORMANCE.md).
FINAL_STATES = (
    (StateType.COMPLETED, 0.54),
    (StateType.FAILED, 0.14),
    (StateType.SCHEDULED, 0.14),
    (StateType.PENDING, 0.03),
    (StateType.RUNNING, 0.03),
    (StateType.CRASHED, 0.06),
    (StateType.CANCELLED, 0.06),
)
STARTED_SHARE = 0.54 + 0.14 + 0.03 + 0.06  # COMPLETED, FAILED, RUNNING, CRASHED
TASK_RUN_SHARE = 0.10
TASKS_PER_RUN = 5
ZERO = dt.timedelta(0)
# The production shape (see the module docstring).
TEAMS = ("sales", "billing", "search", "ads", "risk", "growth", "ops", "data")
OBJECTS = ("orders", "events", "users", "invoices", "clicks", "sessions", "payments", "reports")
TAG_SELECTIVITY = (("critical", 0.005), ("pii", 0.02), ("team-a", 0.1), ("nightly", 0.25))
BURST_SHARE = 0.4  # runs started by a schedule at :00 or :30, many sharing a start time
OFF_BY_A_FRACTION = 0.02  # of those, started up to a second before or after
FUTURE_SCHEDULED_SHARE = 0.7  # SCHEDULED runs still ahead of the anchor (not late)
RECENT_RUNNING_SHARE = 0.8  # RUNNING runs started in the last hour (the rest: for days)
FLOW_CREATED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@dataclass
class State:
    type: str
    name: str
    timestamp: dt.datetime
    scheduled_time: dt.datetime | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass
class Bookkeeping:
    """The denormalised columns ``apply_bookkeeping`` leaves on a run after its states."""

    state_type: str | None = None
    state_name: str | None = None
    state_timestamp: dt.datetime | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    total_run_time: dt.timedelta = ZERO
    expected_start_time: dt.datetime | None = None
    next_scheduled_start_time: dt.datetime | None = None
    run_count: int = 0


def replay(states: Sequence[State]) -> Bookkeeping:
    """The columns the engine's bookkeeping leaves on a run after ``states`` (the shared
    timing rules, and the run count a task run gains on entering RUNNING)."""
    run = Bookkeeping()
    initial: State | None = None
    for state in states:
        advance_run_timing(
            run,
            initial_type=initial.type if initial is not None else None,
            initial_timestamp=initial.timestamp if initial is not None else None,
            state_type=state.type,
            state_name=state.name,
            state_timestamp=state.timestamp,
            scheduled_time=state.scheduled_time,
        )
        if state.type == StateType.RUNNING:
            run.run_count += 1
        initial = state
    return run


@dataclass(frozen=True)
class FlowSpec:
    id: uuid.UUID
    name: str
    kind: str
    tags: tuple[str, ...]


def flow_specs(count: int, seed: int, *, production: bool = False) -> list[FlowSpec]:
    """The flows, deterministic in ``seed`` (ids may be replaced by existing rows' ids)."""
    from runs_app.names import ADJECTIVES

    rng = random.Random(f"{seed}:flows")
    specs = []
    for index in range(count):
        kind = FLOW_KINDS[index % len(FLOW_KINDS)]
        if production:
            name = f"{kind}-{rng.choice(TEAMS)}-{rng.choice(OBJECTS)}-{index:04d}"
        else:
            name = f"{kind}-{rng.choice(ADJECTIVES)}-{index:03d}"
        env = _weighted(rng, ENVIRONMENTS)
        specs.append(FlowSpec(_uuid(rng), name, kind, (env, KIND_TAG[kind])))
    return specs


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _weighted(rng: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    point = rng.random()
    for value, share in choices:
        point -= share
        if point < 0:
            return value
    return choices[-1][0]


@dataclass
class Chunk:
    """Rows of one chunk as Python values, in the column order of ``TABLES``."""

    run_ids: list[uuid.UUID] = field(default_factory=list)
    flow_runs: list[tuple[Any, ...]] = field(default_factory=list)
    flow_run_states: list[tuple[Any, ...]] = field(default_factory=list)
    task_runs: list[tuple[Any, ...]] = field(default_factory=list)
    task_run_states: list[tuple[Any, ...]] = field(default_factory=list)

    def drop_runs(self, existing: set[uuid.UUID]) -> None:
        """Forget the runs already stored (and their states and task runs)."""
        if not existing:
            return
        self.flow_runs = [row for row in self.flow_runs if row[0] not in existing]
        self.flow_run_states = [row for row in self.flow_run_states if row[-1] not in existing]
        kept_tasks = [row for row in self.task_runs if row[-2] not in existing]
        kept_task_ids = {row[0] for row in kept_tasks}
        self.task_runs = kept_tasks
        self.task_run_states = [row for row in self.task_run_states if row[-1] in kept_task_ids]


def _flow_run_states(rng: random.Random, final: str, expected: dt.datetime, anchor: dt.datetime) -> list[State]:
    """A plausible state history ending in ``final``, with the run expected at ``expected``."""
    second = dt.timedelta(seconds=1)

    def duration() -> dt.timedelta:
        return second * (1.0 + min(rng.expovariate(1 / 120.0), 3600.0))

    def created_before() -> dt.datetime:  # never after the anchor (runs scheduled ahead of it)
        return min(expected - second * rng.uniform(60.0, 86_400.0), anchor - second)

    if final in (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED):
        if final == StateType.COMPLETED and rng.random() < 0.12:
            start = expected + second * rng.uniform(0.0, 60.0)
            return [
                State(StateType.SCHEDULED, StateName.SCHEDULED, created_before(), expected, _uuid(rng)),
                State(StateType.RUNNING, default_state_name(StateType.RUNNING), start, None, _uuid(rng)),
                State(
                    StateType.COMPLETED, default_state_name(StateType.COMPLETED), start + duration(), None, _uuid(rng)
                ),
            ]
        end = expected + duration()
        return [
            State(StateType.RUNNING, default_state_name(StateType.RUNNING), expected, None, _uuid(rng)),
            State(final, final.capitalize(), end, None, _uuid(rng)),
        ]
    if final == StateType.SCHEDULED:
        states = [State(StateType.SCHEDULED, StateName.SCHEDULED, created_before(), expected, _uuid(rng))]
        late_at = expected + second * 15
        if late_at < anchor:
            states.append(State(StateType.SCHEDULED, StateName.LATE, late_at, expected, _uuid(rng)))
        return states
    if final == StateType.PENDING:
        return [State(StateType.PENDING, default_state_name(StateType.PENDING), expected, None, _uuid(rng))]
    if final == StateType.RUNNING:
        return [
            State(StateType.PENDING, default_state_name(StateType.PENDING), expected, None, _uuid(rng)),
            State(
                StateType.RUNNING,
                default_state_name(StateType.RUNNING),
                expected + second * rng.uniform(1.0, 30.0),
                None,
                _uuid(rng),
            ),
        ]
    # CANCELLED before it started
    created = created_before()
    cancelled = created + (expected - created) * rng.random()
    return [
        State(StateType.SCHEDULED, StateName.SCHEDULED, created, expected, _uuid(rng)),
        State(StateType.CANCELLED, default_state_name(StateType.CANCELLED), cancelled, None, _uuid(rng)),
    ]


def _production_start(rng: random.Random, final: str, expected: dt.datetime, anchor: dt.datetime) -> dt.datetime:
    """A run's expected start in the production shape, from the uniform one."""
    if final == StateType.SCHEDULED and rng.random() < FUTURE_SCHEDULED_SHARE:
        return anchor + dt.timedelta(seconds=rng.uniform(60.0, 3 * 86_400.0))
    if final == StateType.RUNNING and rng.random() < RECENT_RUNNING_SHARE:
        return anchor - dt.timedelta(seconds=rng.uniform(60.0, 3_600.0))
    if rng.random() < BURST_SHARE:
        slot = expected.replace(minute=0 if expected.minute < 30 else 30, second=0, microsecond=0)
        if rng.random() < OFF_BY_A_FRACTION:
            slot += dt.timedelta(seconds=rng.uniform(-1.0, 1.0))
        if slot <= anchor:
            return slot
    return expected


def _task_state_type(final: str, position: int, per_run: int) -> str:
    if final == StateType.COMPLETED:
        return StateType.COMPLETED
    if final in (StateType.FAILED, StateType.CRASHED):
        return StateType.FAILED if position == per_run - 1 else StateType.COMPLETED
    # RUNNING
    return StateType.COMPLETED if position < 2 else (StateType.RUNNING if position == 2 else StateType.PENDING)


@dataclass(frozen=True)
class TaskShape:
    """Which runs get task runs and how many: ``share`` of all runs (drawn among the
    started ones) get ``per_run`` each."""

    share: float = TASK_RUN_SHARE
    per_run: int = TASKS_PER_RUN

    @classmethod
    def for_total(cls, runs: int, task_runs: int | None) -> TaskShape:
        """The shape giving about ``task_runs`` task runs over ``runs`` runs (``None``: the
        PERFORMANCE.md default, 10 % of runs with 5 each)."""
        if task_runs is None:
            return cls()
        if runs <= 0 or task_runs <= 0:
            return cls(0.0, TASKS_PER_RUN)
        per_run = max(TASKS_PER_RUN, math.ceil(task_runs / (runs * STARTED_SHARE)))
        return cls(min(STARTED_SHARE, task_runs / (runs * per_run)), per_run)


@dataclass(frozen=True)
class SeedWorkspace:
    """A workspace the runs are spread over, with its copies of the flows (in the order
    of :func:`flow_specs`)."""

    id: int
    flows: Sequence[FlowSpec]


def workspace_flow_id(spec: FlowSpec, workspace_id: int) -> uuid.UUID:
    """The id of a flow's copy in a workspace: the spec's own in ``default`` (the data set
    as it always was), one derived from it in any other."""
    return spec.id if workspace_id == DEFAULT_WORKSPACE_ID else uuid.uuid5(spec.id, f"workspace:{workspace_id}")


def generate_chunk(
    chunk: int,
    count: int,
    *,
    seed: int,
    workspaces: Sequence[SeedWorkspace],
    anchor: dt.datetime,
    tasks: TaskShape = TaskShape(),
    production: bool = False,
) -> Chunk:
    """The first ``count`` runs of chunk ``chunk`` (a prefix: independent of ``count``),
    the run at position ``p`` of the data set in ``workspaces[p % len(workspaces)]``.

    Seeded into ``default`` alone, the rows are those of the data set before workspaces;
    spread over other workspaces, ids come from a stream of their own, so a spread data
    set and the ``default`` one can be stored side by side."""
    from runs_app.names import ADJECTIVES, ANIMALS

    ids = [workspace.id for workspace in workspaces]
    spread = "" if ids == [DEFAULT_WORKSPACE_ID] else ":workspaces:" + ",".join(map(str, ids))
    rng = random.Random(f"{seed}:runs:{chunk}{spread}")
    shaping = random.Random(f"{seed}:production:{chunk}{spread}") if production else None
    out = Chunk()
    span = DAYS * 86_400.0
    task_share = tasks.share / STARTED_SHARE
    for position in range(chunk * CHUNK, chunk * CHUNK + count):
        workspace = workspaces[position % len(workspaces)]
        run_id = _uuid(rng)
        flow = workspace.flows[rng.randrange(len(workspace.flows))]
        final = _weighted(rng, FINAL_STATES)
        expected = anchor - dt.timedelta(seconds=rng.random() * span)
        tags = list(flow.tags)
        if rng.random() < 0.3 and shaping is None:
            tags.append(EXTRA_TAGS[rng.randrange(len(EXTRA_TAGS))])
        if shaping is not None:
            expected = _production_start(shaping, final, expected, anchor)
            tags += [tag for tag, share in TAG_SELECTIVITY if shaping.random() < share]
        name = f"{ADJECTIVES[rng.randrange(len(ADJECTIVES))]}-{ANIMALS[rng.randrange(len(ANIMALS))]}"
        states = _flow_run_states(rng, final, expected, anchor)
        book = replay(states)
        created, updated = states[0].timestamp, states[-1].timestamp
        run_id_text = str(run_id)
        for state in states:
            details: dict[str, Any] = {"flow_run_id": run_id_text}
            if state.scheduled_time is not None:
                details["scheduled_time"] = state.scheduled_time.isoformat()
            out.flow_run_states.append(
                (
                    state.id, workspace.id, state.timestamp, state.timestamp, state.type, state.name, state.timestamp,
                    details, run_id,
                )
            )  # fmt: skip
        out.run_ids.append(run_id)
        out.flow_runs.append(
            (
                run_id, workspace.id, created, updated, name, FLOW_RUN_POLICY_DEFAULTS, tags,
                book.state_type, book.state_name, book.state_timestamp, book.run_count,
                book.expected_start_time, book.next_scheduled_start_time, book.start_time, book.end_time,
                book.total_run_time, {"n": rng.randrange(100)}, {}, False, "1.0", flow.id, states[-1].id,
            )
        )  # fmt: skip
        if book.start_time is None or rng.random() >= task_share:
            continue
        finished = book.end_time or (book.start_time + dt.timedelta(seconds=60))
        step = (finished - book.start_time) / tasks.per_run
        for index in range(tasks.per_run):
            task_id, state_id = _uuid(rng), _uuid(rng)
            state_type = _task_state_type(final, index, tasks.per_run)
            at = book.start_time + step * (index + 0.5)
            task_book = replay([State(state_type, state_type.capitalize(), at, None, state_id)])
            out.task_runs.append(
                (
                    task_id, workspace.id, at, at, f"{flow.kind}-task-{index}-0", TASK_RUN_POLICY_DEFAULTS, tags,
                    task_book.state_type, task_book.state_name, task_book.state_timestamp, task_book.run_count,
                    task_book.expected_start_time, task_book.start_time, task_book.end_time,
                    task_book.total_run_time, f"{flow.kind}-task-{index}", "0", {}, 1, run_id, state_id,
                )
            )  # fmt: skip
            details = {"flow_run_id": run_id_text, "task_run_id": str(task_id)}
            out.task_run_states.append(
                (state_id, workspace.id, at, at, state_type, state_type.capitalize(), at, details, task_id)
            )
    return out


# ``workspace_id`` second in every table: ``WORKSPACE_COLUMN`` (a database without
# workspaces, the reference's, takes the rows without it).
WORKSPACE_COLUMN = 1

FLOW_RUN_COLUMNS = (
    "id", "workspace_id", "created", "updated", "name", "empirical_policy", "tags",
    "state_type", "state_name", "state_timestamp", "run_count",
    "expected_start_time", "next_scheduled_start_time", "start_time", "end_time",
    "total_run_time", "parameters", "context", "auto_scheduled", "flow_version", "flow_id", "state_id",
)  # fmt: skip


STATE_COLUMNS = ("id", "workspace_id", "created", "updated", "type", "name", "timestamp", "state_details")


TASK_RUN_COLUMNS = (
    "id", "workspace_id", "created", "updated", "name", "empirical_policy", "tags",
    "state_type", "state_name", "state_timestamp", "run_count",
    "expected_start_time", "start_time", "end_time",
    "total_run_time", "task_key", "dynamic_key", "task_inputs", "flow_run_run_count", "flow_run_id", "state_id",
)  # fmt: skip


# (model label, Chunk attribute, columns)
TABLES = (
    ("runs_app.FlowRun", "flow_runs", FLOW_RUN_COLUMNS),
    ("runs_app.FlowRunState", "flow_run_states", (*STATE_COLUMNS, "flow_run_id")),
    ("runs_app.TaskRun", "task_runs", TASK_RUN_COLUMNS),
    ("runs_app.TaskRunState", "task_run_states", (*STATE_COLUMNS, "task_run_id")),
)
