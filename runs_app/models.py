"""Runs and what they record: flow runs, task runs, their state history, logs, limits.

A run's current state is denormalised onto the run row (``state_type``, ``state_name``,
``state_timestamp`` and the timing columns) so that filters and sorts read one table;
the state rows themselves are an append-only history. Only the orchestration services
in ``runs_app.orchestration`` write states and those columns.

PostgreSQL-only GIN indexes on the ``tags`` columns are created by migration
``0002_postgres_indexes`` (they have no SQLite equivalent, so they are not in ``Meta``).
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from orion_project.models import TenantModel
from runs_app.states import TERMINAL_STATE_TYPES, StateName, StateType


class RunState(TenantModel):
    """Fields shared by flow-run and task-run state rows."""

    type = models.CharField(max_length=16, choices=StateType.choices)
    name = models.TextField()
    timestamp = models.DateTimeField()
    message = models.TextField(null=True, blank=True)
    data = models.JSONField(null=True, blank=True)
    state_details = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name} ({self.type}) at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class Run(TenantModel):
    """Fields shared by flow runs and task runs: identity, policy and orchestration output."""

    name = models.TextField()
    empirical_policy = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    state_type = models.CharField(max_length=16, choices=StateType.choices, null=True, blank=True)
    state_name = models.TextField(null=True, blank=True)
    state_timestamp = models.DateTimeField(null=True, blank=True)
    run_count = models.PositiveIntegerField(default=0)
    expected_start_time = models.DateTimeField(null=True, blank=True)
    next_scheduled_start_time = models.DateTimeField(null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    total_run_time = models.DurationField(default=dt.timedelta(0))

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    def estimated_run_time_at(self, now: dt.datetime) -> float:
        """Seconds run so far: ``total_run_time`` plus the current RUNNING stretch."""
        return estimated_run_time(self.total_run_time, self.state_type, self.state_timestamp, now)

    def lateness_at(self, now: dt.datetime) -> float:
        """``estimated_start_time_delta``: see :func:`estimated_lateness`."""
        return estimated_lateness(self.expected_start_time, self.start_time, self.state_type, now)


def estimated_run_time(
    total_run_time: dt.timedelta, state_type: str | None, state_timestamp: dt.datetime | None, now: dt.datetime
) -> float:
    """A run's seconds run so far from its columns (for reads of columns, not of whole runs)."""
    total = total_run_time.total_seconds()
    if state_type == StateType.RUNNING and state_timestamp is not None:
        total += max((now - state_timestamp).total_seconds(), 0.0)
    return total


def estimated_lateness(
    expected: dt.datetime | None, start: dt.datetime | None, state_type: str | None, now: dt.datetime
) -> float:
    """Seconds between a run's expected and actual start, or, for a run not started nor
    finished, how late it is already."""
    if expected is None:
        return 0.0
    if start is not None:
        return max((start - expected).total_seconds(), 0.0)
    if state_type not in TERMINAL_STATE_TYPES and expected < now:
        return (now - expected).total_seconds()
    return 0.0


class FlowRunQuerySet(models.QuerySet["FlowRun"]):
    """The reads of flow runs that several places share, defined once."""

    def late(self) -> FlowRunQuerySet:
        """Runs the late-runs service marked Late and that have not moved on: a SCHEDULED
        state named "Late" (a client may give any state that name; only this pair is late)."""
        return self.filter(state_type=StateType.SCHEDULED, state_name=StateName.LATE)

    def for_response(self) -> FlowRunQuerySet:
        """With the rows a flow-run answer shows joined: its state and its work queue's pool."""
        return self.select_related("state", "work_queue__work_pool")


class TaskRunQuerySet(models.QuerySet["TaskRun"]):
    """The reads of task runs that several places share, defined once."""

    def for_response(self) -> TaskRunQuerySet:
        """With the row a task-run answer shows joined: its state."""
        return self.select_related("state")


class FlowRun(Run):
    """One execution of a flow.

    ``(flow, idempotency_key)`` is unique: creating a run with a key that exists returns
    the existing run. A sub-flow run points at the task run that stands for it in its
    parent (``parent_task_run``).
    """

    # No index of its own on the foreign keys whose column leads a composite index
    # (``uq_flow_run_flow_idempotency``, ``ix_fr_deployment``, ``ix_fr_parent_task_run``): every state
    # write rewrites each index of the row, so a redundant one is paid on the hot path.
    flow = models.ForeignKey("flows_app.Flow", on_delete=models.CASCADE, related_name="flow_runs", db_index=False)
    deployment = models.ForeignKey(
        "flows_app.Deployment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="flow_runs",
        db_index=False,
    )
    state = models.ForeignKey("FlowRunState", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    work_queue_name = models.TextField(null=True, blank=True)
    work_queue = models.ForeignKey(
        "flows_app.WorkQueue", on_delete=models.SET_NULL, null=True, blank=True, related_name="flow_runs"
    )
    flow_version = models.TextField(null=True, blank=True)
    deployment_version = models.TextField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    idempotency_key = models.TextField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True)
    job_variables = models.JSONField(null=True, blank=True)
    parent_task_run = models.ForeignKey(
        "TaskRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subflow_runs",
        db_index=False,
    )
    auto_scheduled = models.BooleanField(default=False)
    infrastructure_document_id = models.UUIDField(null=True, blank=True)
    infrastructure_pid = models.TextField(null=True, blank=True)
    created_by = models.JSONField(null=True, blank=True)

    objects = FlowRunQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["flow", "idempotency_key"], name="uq_flow_run_flow_idempotency")]
        indexes = [
            # Recent-runs pages and the history buckets (sort/filter on expected start).
            models.Index(fields=["workspace", "-expected_start_time"], name="ix_fr_ws_expected_start"),
            # "Runs by state" lists, counts by state and per-state history.
            models.Index(fields=["workspace", "state_type", "expected_start_time"], name="ix_fr_ws_state_expected"),
            models.Index(fields=["workspace", "state_name"], name="ix_fr_ws_state_name"),
            # Runs of one flow, newest first. Led by the workspace every read names: with
            # the flow alone, PostgreSQL ANDed the flow's entries with a bitmap of the
            # whole workspace (it cannot know a flow's runs are all in its workspace).
            models.Index(fields=["workspace", "flow", "-expected_start_time"], name="ix_fr_ws_flow_expected"),
            # START_TIME_* sort: COALESCE(start_time, expected_start_time), read in one go
            # where a database cannot merge ordered, limited reads (SQLite). PostgreSQL
            # reads such pages and the scatter plot from the two partial indexes below.
            models.Index(
                F("workspace"),
                Coalesce(F("start_time"), F("expected_start_time")).desc(),
                name="ix_fr_ws_start_or_expected",
                include=["expected_start_time", "id", "state_type", "state_timestamp", "start_time", "total_run_time"],
            ),
            # START_TIME_* pages on PostgreSQL, read as two ordered reads merged
            # (``runs_app.selectors.runs``): a run not started sorts by its expected start,
            # a started one by its start. Over the index above, an expected-start window
            # walked past every run scheduled ahead of it. The flow is carried so that a
            # flow's page reads its runs from these indexes alone.
            models.Index(
                fields=["workspace", "expected_start_time"],
                name="ix_fr_ws_not_started",
                condition=Q(start_time__isnull=True),
                include=["id", "flow_id"],
            ),
            models.Index(
                fields=["workspace", "start_time"],
                name="ix_fr_ws_started",
                condition=Q(start_time__isnull=False),
                include=["expected_start_time", "id", "flow_id"],
            ),
            models.Index(fields=["workspace", "-end_time"], name="ix_fr_ws_end_time"),
            models.Index(fields=["workspace", "name"], name="ix_fr_ws_name"),
            # Agents poll scheduled runs in next-scheduled order.
            models.Index(
                fields=["workspace", "next_scheduled_start_time"],
                name="ix_fr_ws_next_scheduled",
                condition=Q(state_type=StateType.SCHEDULED),
            ),
            models.Index(fields=["deployment", "-expected_start_time"], name="ix_fr_deployment"),
            models.Index(fields=["workspace", "work_queue_name"], name="ix_fr_ws_work_queue_name"),
            # Agent and worker polls: a queue's scheduled runs in next-scheduled order.
            models.Index(
                fields=["work_queue", "next_scheduled_start_time"],
                name="ix_fr_queue_next_scheduled",
                condition=Q(state_type=StateType.SCHEDULED),
            ),
            models.Index(fields=["parent_task_run"], name="ix_fr_parent_task_run"),
        ]


class FlowRunHistoryBucket(models.Model):
    """Flow runs summed per flow, hour of expected start, state type and state name: the
    answer to ``POST /flow_runs/history`` without reading the runs.

    Kept by ``runs_app.rollup.writes`` in the transaction of every state write and of
    every delete of runs (the one delete path), so it always equals what reading the runs
    gives. Besides each flow's rows there is an all-flows row per hour and state
    (``flow_id`` = the nil UUID), so an unfiltered 30-day history adds up a few thousand
    rows, and an all-hours row per state (``runs_app.rollup.writes.ALL_HOURS``), so
    ``/api/metrics`` reads a workspace's runs per state in a row each. The sums are those the history answer needs at any ``now``: run time so far,
    when RUNNING runs entered that state, and the lateness of started runs and of runs
    not started yet.

    Not the same question as :class:`RunStateCount`: that is a periodic snapshot of how
    many flow *and task* runs are in each state type now, for ``/api/metrics``; this is a
    live, per-hour history of flow runs by their expected start.
    """

    workspace_id = models.IntegerField()
    flow_id = models.UUIDField()
    bucket = models.DateTimeField()
    state_type = models.CharField(max_length=16, choices=StateType.choices)
    state_name = models.TextField()
    count_runs = models.BigIntegerField(default=0)
    run_time_sum = models.FloatField(default=0.0)
    running_since_sum = models.FloatField(default=0.0)
    started_lateness_sum = models.FloatField(default=0.0)
    unstarted_count = models.BigIntegerField(default=0)
    unstarted_expected_sum = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            # The upsert's conflict target; flow first, so one flow's (or the all-flows)
            # hours are one index range.
            models.UniqueConstraint(
                fields=["workspace_id", "flow_id", "bucket", "state_type", "state_name"], name="uq_fr_history_ws_bucket"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:00} {self.state_name}: {self.count_runs}"


class FlowRunState(RunState):
    """One state in a flow run's history (append-only)."""

    flow_run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="states", db_index=False)

    class Meta:
        indexes = [models.Index(fields=["flow_run", "timestamp"], name="ix_frs_run_timestamp")]


class TaskRun(Run):
    """One execution of a task inside a flow run.

    ``(flow_run, task_key, dynamic_key)`` is unique: creating it again returns the
    existing task run.
    """

    # Indexed by ``uq_task_run_key`` (flow_run, task_key, dynamic_key).
    flow_run = models.ForeignKey(
        FlowRun, on_delete=models.CASCADE, null=True, blank=True, related_name="task_runs", db_index=False
    )
    state = models.ForeignKey("TaskRunState", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    task_key = models.TextField()
    dynamic_key = models.TextField()
    cache_key = models.TextField(null=True, blank=True)
    cache_expiration = models.DateTimeField(null=True, blank=True)
    task_version = models.TextField(null=True, blank=True)
    task_inputs = models.JSONField(default=dict, blank=True)
    flow_run_run_count = models.PositiveIntegerField(default=0)

    objects = TaskRunQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["flow_run", "task_key", "dynamic_key"], name="uq_task_run_key")]
        indexes = [
            models.Index(fields=["workspace", "-expected_start_time"], name="ix_tr_ws_expected_start"),
            models.Index(fields=["workspace", "state_type", "expected_start_time"], name="ix_tr_ws_state_expected"),
            models.Index(fields=["workspace", "-end_time"], name="ix_tr_ws_end_time"),
            models.Index(fields=["workspace", "name"], name="ix_tr_ws_name"),
            # The dashboard's task-run counts and history: a window of start time.
            models.Index(fields=["workspace", "start_time"], name="ix_tr_ws_start_time"),
            models.Index(
                fields=["workspace", "next_scheduled_start_time"],
                name="ix_tr_ws_next_scheduled",
                condition=Q(state_type=StateType.SCHEDULED),
            ),
        ]


class TaskRunState(RunState):
    """One state in a task run's history (append-only)."""

    task_run = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="states", db_index=False)

    class Meta:
        indexes = [models.Index(fields=["task_run", "timestamp"], name="ix_trs_run_timestamp")]


class TaskRunStateCache(TenantModel):
    """A cached COMPLETED task state, found again by ``cache_key`` until it expires."""

    cache_key = models.TextField()
    cache_expiration = models.DateTimeField(null=True, blank=True)
    task_run_state = models.ForeignKey(TaskRunState, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["workspace", "cache_key", "-created"], name="ix_cache_ws_key_created")]

    def __str__(self) -> str:
        return self.cache_key


class Log(TenantModel):
    """A log line sent by a flow or task run. Not linked by foreign key (as the reference)."""

    name = models.TextField()
    level = models.SmallIntegerField()
    message = models.TextField()
    timestamp = models.DateTimeField()
    flow_run_id = models.UUIDField(null=True, blank=True)
    task_run_id = models.UUIDField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["flow_run_id", "timestamp"], name="ix_log_flow_run_timestamp"),
            models.Index(fields=["task_run_id", "timestamp"], name="ix_log_task_run_timestamp"),
            models.Index(fields=["workspace", "timestamp"], name="ix_log_ws_timestamp"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.message[:60]}"


class ConcurrencyLimit(TenantModel):
    """A limit on how many task runs with ``tag`` may be RUNNING at once.

    ``active_slots`` lists the ids of the task runs holding a slot; it is only changed
    with the row locked (see ``runs_app.services.slots``), together with ``slot_acquired`` (since
    when each holds it). A slot held past ``max_hold_seconds`` (if set) is freed.
    """

    tag = models.TextField()
    concurrency_limit = models.PositiveIntegerField()
    active_slots = models.JSONField(default=list, blank=True)
    slot_acquired = models.JSONField(default=dict, blank=True, editable=False)
    max_hold_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Free a slot held longer than this (empty: no maximum)."
    )

    class Meta:
        ordering = ["tag"]
        constraints = [models.UniqueConstraint(fields=["workspace", "tag"], name="uq_concurrency_limit_ws_tag")]

    def __str__(self) -> str:
        return f"{self.tag} ≤ {self.concurrency_limit}"


# ------------------------------------------------------------------ 2.20 additions


class Artifact(TenantModel):
    """Something a run produced for people to read: a table, markdown, a link, a result.

    ``flow_run_id`` / ``task_run_id`` are plain columns, not foreign keys: the reference
    accepts any id there and keeps the artifact when its run is deleted.
    """

    key = models.TextField(null=True, blank=True)
    type = models.TextField(null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    data = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)  # "metadata_" on the wire
    flow_run_id = models.UUIDField(null=True, blank=True)
    task_run_id = models.UUIDField(null=True, blank=True)

    class Meta:
        indexes = [
            # read_latest after a delete, and ``key.any_`` filters
            models.Index(fields=["workspace", "key", "-created"], name="ix_artifact_ws_key_created"),
            models.Index(fields=["flow_run_id"], name="ix_artifact_flow_run"),
            models.Index(fields=["task_run_id"], name="ix_artifact_task_run"),
        ]

    def __str__(self) -> str:
        return f"{self.key or self.id} ({self.type})"


class ArtifactCollection(TenantModel):
    """The latest artifact of each key, with a copy of its columns (``/artifacts/latest/...``).

    Its own ``id`` and ``created`` outlive the artifacts it points to; ``latest_id`` moves
    to the next newest artifact of the key when the latest one is deleted.
    """

    key = models.TextField()
    latest_id = models.UUIDField()
    type = models.TextField(null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    data = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)  # "metadata_" on the wire
    flow_run_id = models.UUIDField(null=True, blank=True)
    task_run_id = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="uq_artifact_collection_ws_key")]

    def __str__(self) -> str:
        return self.key


class FlowRunInput(TenantModel):
    """A value sent to a flow run under a key (``pause_flow_run(wait_for_input=...)``,
    ``send_input``); ``value`` is the JSON text exactly as sent."""

    flow_run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="inputs", db_index=False)
    key = models.TextField()
    value = models.TextField()
    sender = models.TextField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["flow_run", "key"], name="uq_flow_run_input_key")]

    def __str__(self) -> str:
        return f"{self.flow_run_id}/{self.key}"


class GlobalConcurrencyLimit(TenantModel):
    """A named limit on slots held across processes (``/v2/concurrency_limits/``).

    ``active_slots`` counts held slots; with ``slot_decay_per_second`` > 0 they drain by
    themselves over time (a rate limit). The decay is applied lazily, from the time of
    the row's last write (``updated``), each time the row is written under its lock.
    ``denied_slots`` and ``avg_slot_occupancy_seconds`` feed the ``Retry-After`` estimate.
    """

    name = models.TextField()
    limit = models.PositiveIntegerField()
    active = models.BooleanField(default=True)
    active_slots = models.PositiveIntegerField(default=0)
    denied_slots = models.PositiveIntegerField(default=0)
    slot_decay_per_second = models.FloatField(default=0.0)
    avg_slot_occupancy_seconds = models.FloatField(default=2.0)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="uq_global_limit_ws_name")]

    def __str__(self) -> str:
        return f"{self.name}: {self.active_slots}/{self.limit}"


class RunStateCount(models.Model):
    """How many flow (or task) runs were in a state type when ``computed`` (the metrics
    service refreshes them; ``/api/metrics`` reads these few rows instead of counting a
    table of millions on every scrape). A snapshot of the present, flow and task runs
    alike; :class:`FlowRunHistoryBucket` is the live per-hour history of flow runs."""

    class Kind(models.TextChoices):
        FLOW_RUN = "flow_run"
        TASK_RUN = "task_run"

    workspace_id = models.IntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state_type = models.CharField(max_length=16, choices=StateType.choices)
    count = models.BigIntegerField(default=0)
    computed = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace_id", "kind", "state_type"], name="uq_run_state_count_ws")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.state_type}: {self.count}"
