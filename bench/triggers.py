"""How far behind the events does the trigger evaluator act? (``make bench-triggers``)

    .venv/bin/python -m bench.triggers [--db both|postgres|sqlite] [--database-url URL]
                                       [--rate 1000] [--seconds 20] [--fraction 0.1]
                                       [--backlog 20000]

On a fresh database (``--database-url``; else a throwaway PostgreSQL cluster and a
temporary SQLite file, one after the other) migrated by ``manage.py migrate``: one
reactive automation that expects ``bench.match`` with a ``do-nothing`` action. The API
runs as shipped (``orion_start --no-services --workers 1``, PostgreSQL's postmaster and
it pinned to ``--server-cpu``); a producer process (``bench.ingest produce``, pinned to
``--cpu``) posts ``--rate`` events a second to ``POST /events`` in batches of ``--batch``
on a fixed schedule for ``--seconds`` (each ``occurred`` = the moment its batch is built),
``--fraction`` of them matching, while ``manage.py orion_services --only triggers,actions``
runs as shipped (its pass intervals from ``ORION_TRIGGERS_INTERVAL_MS`` and
``ORION_ACTIONS_INTERVAL_SECONDS``), pinned to ``--cpu``.

Quotes the rate achieved, the evaluator's CPU over the run (the services process), the
lag from each matching event's ``occurred`` to the creation of its ``ActionRun`` row (the
firing, p50 / p99 / max) and to its ``prefect.automation.action.executed`` event, and
from the firing to that event (the action runner's part); then
stops the services, records a backlog of ``--backlog`` events and times one evaluator
(this process, one thread) draining it: the evaluator's events per second at one core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from bench.compare import PY, ROOT, Cluster, log, ours, pinned
from bench.load import process_tree_cpu

RESOURCE_PATTERN = "bench.ingest.*"  # the resources bench.ingest's events name


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _events(count: int, fraction: float, start: int) -> list[object]:
    from events_app.services.record import NewEvent

    now = dt.datetime.now(dt.UTC)
    every = max(1, round(1 / fraction)) if fraction else 0
    return [
        NewEvent(
            "bench.match" if every and (start + index) % every == 0 else "bench.other",
            {"prefect.resource.id": f"bench.ingest.{(start + index) % 100}"},
            occurred=now,
            id=uuid.uuid4(),
        )
        for index in range(count)
    ]


def _lags() -> tuple[list[float], list[float], list[float], list[float]]:
    """Seconds from each firing's triggering event to its ActionRun row, from the event's
    arrival at the server (``received``) to that row (the evaluator's part alone), from
    the event to its ``action.executed`` event, and from the row to that event (the
    action runner's part alone)."""
    from automations_app.models import ActionRun
    from events_app.models import Event

    occurred: dict[str, dt.datetime] = {}
    fired_at: dict[str, dt.datetime] = {}
    fired, evaluated = [], []
    for run_id, created, firing in ActionRun.objects.values_list("id", "created", "firing"):
        occurred[str(run_id)] = dt.datetime.fromisoformat(firing["triggering_event"]["occurred"])
        fired_at[str(run_id)] = created
        fired.append((created - occurred[str(run_id)]).total_seconds())
        received = dt.datetime.fromisoformat(firing["triggering_event"]["received"])
        evaluated.append((created - received).total_seconds())
    executed, acted = [], []
    for moment, payload in Event.objects.filter(event="prefect.automation.action.executed").values_list(
        "occurred", "payload"
    ):
        if (start := occurred.get(str(payload.get("invocation")))) is not None:
            executed.append((moment - start).total_seconds())
            acted.append((moment - fired_at[str(payload.get("invocation"))]).total_seconds())
    return fired, evaluated, executed, acted


def _summary(lags: list[float]) -> str:
    if not lags:
        return "none"
    return (
        f"p50 {statistics.median(lags) * 1000:,.0f} ms, p99 {_percentile(lags, 0.99) * 1000:,.0f} ms,"
        f" max {max(lags) * 1000:,.0f} ms"
    )


def _one_database(args: argparse.Namespace) -> int:
    """The whole measurement on ``args.database_url`` (or a temporary SQLite file)."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-triggers-"))
    url = args.database_url or f"sqlite:///{scratch / 'orion.sqlite3'}"
    server = ours(url, args.port, workers=1)  # migrates
    env = {**server.env, "DJANGO_SETTINGS_MODULE": "orion_project.settings", "ORION_DATA_DIR": str(scratch)}
    os.environ.clear()
    os.environ.update(env)

    import django

    django.setup()
    from django.db import connection, transaction

    from automations_app.background.triggers import evaluate_triggers
    from automations_app.models import ActionRun, Automation, AutomationBucket
    from events_app.models import Event, EventCursor, EventResource
    from events_app.services.record import record_events
    from orion_project.models import ServiceHeartbeat

    for model in (ActionRun, AutomationBucket, Automation, EventResource, Event, EventCursor):
        model.objects.all().delete()
    trigger = {
        "type": "event", "id": str(uuid.uuid4()), "match": {"prefect.resource.id": RESOURCE_PATTERN},
        "match_related": {}, "after": [], "expect": ["bench.match"], "for_each": [], "posture": "Reactive",
        "threshold": 1, "within": 0.0,
    }  # fmt: skip
    Automation.objects.create(workspace_id=1, name="bench", trigger=trigger, actions=[{"type": "do-nothing"}])
    connection.close()

    vendor = connection.vendor
    server_cpu = None if args.no_pin else args.server_cpu
    cpu = None if args.no_pin else args.cpu
    server.start(server_cpu, scratch)
    log(
        f"{vendor}: {args.rate} events/s for {args.seconds:.0f} s in batches of {args.batch}, {args.fraction:.0%} matching"
    )
    launched = dt.datetime.now(dt.UTC)
    services = subprocess.Popen(
        pinned([PY, str(ROOT / "manage.py"), "orion_services", "--only", "triggers,actions"], cpu),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    every = max(1, round(1 / args.fraction)) if args.fraction else 0
    try:
        # Produce once the services process has finished a pass (its start-up is no lag).
        deadline = time.monotonic() + 120
        while not ServiceHeartbeat.objects.filter(name="triggers", last_success__gte=launched).exists():
            assert time.monotonic() < deadline and services.poll() is None, "the services process did not start"
            time.sleep(0.2)
        command = [PY, "-m", "bench.ingest", "produce", "--url", server.base_url, "--name", "bench.other",
                   "--mode", "post", "--batch", str(args.batch), "--connections", "4",
                   "--seconds", str(args.seconds), "--rate", str(args.rate),
                   "--match-name", "bench.match", "--match-every", str(every)]  # fmt: skip
        evaluator_before = process_tree_cpu([services.pid], reaped=True)
        done = subprocess.run(pinned(command, cpu), cwd=ROOT, capture_output=True, text=True, check=True)
        produced = json.loads(done.stdout.strip().splitlines()[-1])
        expected = Event.objects.filter(event="bench.match").count()
        deadline = time.monotonic() + 60
        while ActionRun.objects.count() < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        evaluator_cpu = (process_tree_cpu([services.pid], reaped=True) or 0) - (evaluator_before or 0)
        # The actions service runs every ORION_ACTIONS_INTERVAL_SECONDS: let it finish.
        deadline = time.monotonic() + 30
        while ActionRun.objects.filter(status=ActionRun.Status.PENDING).exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        services.terminate()
        services.wait(timeout=30)
        server.stop()
    fired, evaluated, executed, acted = _lags()
    stored = Event.objects.filter(event__in=("bench.match", "bench.other")).count()
    for start in range(0, args.backlog, 1000):
        with transaction.atomic():
            record_events(_events(min(1000, args.backlog - start), args.fraction, start), workspace_id=1)  # type: ignore[arg-type]
    started = time.perf_counter()
    read = 0
    while done_now := evaluate_triggers():
        read += done_now
    drained = read / (time.perf_counter() - started)
    print(
        f"\n### Trigger lag at {args.rate:,} events/s asked, {args.fraction:.0%} matching (make bench-triggers),"
        f" {vendor}, {args.seconds:.0f} s, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC,"
        f" load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| measure | value |\n|---|---:|")
    print(f"| events/s accepted (stored) | {produced['accepted'] / args.seconds:,.0f} ({stored:,} stored, {produced['errors']} errors) |")  # fmt: skip
    print(f"| firings / matching events | {len(fired)} / {expected} |")
    print(f"| services process CPU | {evaluator_cpu / args.seconds:.0%} of a core, {evaluator_cpu * 1e6 / max(stored, 1):,.0f} ms per 1,000 events |")  # fmt: skip
    print(f"| occurred -> firing (ActionRun) | {_summary(fired)} |")
    print(f"| received -> firing (the evaluator alone) | {_summary(evaluated)} |")
    print(f"| occurred -> action.executed | {_summary(executed)} |")
    print(f"| firing -> action.executed (the action runner alone) | {_summary(acted)} |")
    print(f"| evaluator draining a backlog of {read:,}, one thread | {drained:,.0f} events/s |")
    return 0 if len(fired) == expected and produced["errors"] == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.triggers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--database-url", default="", help="measure on this database only")
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--batch", type=int, default=50, help="events per POST")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fraction", type=float, default=0.1, help="share of events the automation matches")
    parser.add_argument("--backlog", type=int, default=20_000, help="events for the throughput run")
    parser.add_argument("--port", type=int, default=4283)
    parser.add_argument("--server-cpu", default="0", help="CPU for the API and PostgreSQL")
    parser.add_argument("--cpu", default="1", help="CPU for the services process and the producer")
    parser.add_argument("--no-pin", action="store_true", help="no taskset")
    args = parser.parse_args(argv)
    if args.database_url or args.db == "sqlite":
        return _one_database(args)
    forwarded = list(argv if argv is not None else sys.argv[1:])
    failed = 0
    cluster = Cluster(
        Path(os.environ.get("PG_THROWAWAY_STATE") or Path(tempfile.mkdtemp(prefix="bench-triggers-pg-")) / "pg.env")
    )
    try:
        cluster.start(None if args.no_pin else args.server_cpu)
        cluster.sql("postgres", "CREATE DATABASE triggers")
        failed |= subprocess.run([PY, "-m", "bench.triggers", *forwarded, "--database-url", cluster.url("triggers")],
                                 cwd=ROOT).returncode  # fmt: skip
    finally:
        cluster.stop()
    if args.db == "both":
        failed |= subprocess.run([PY, "-m", "bench.triggers", *forwarded, "--db", "sqlite"], cwd=ROOT).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
