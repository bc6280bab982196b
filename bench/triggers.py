"""How far behind the events does the trigger evaluator act? (``make bench-triggers``)

    .venv/bin/python -m bench.triggers [--database-url URL] [--rate 1000] [--seconds 20]
                                       [--fraction 0.1] [--backlog 50000]

On a fresh database (``--database-url``, else a temporary SQLite file) migrated by
``manage.py migrate``: one reactive automation that expects ``bench.match``; events
recorded through ``record_events`` at ``--rate`` per second (batches every 10 ms, each
``occurred`` = the moment it is recorded), ``--fraction`` of them matching, while
``manage.py orion_services --only triggers`` runs as shipped (its pass interval from
``ORION_TRIGGERS_INTERVAL_MS``), pinned to one core where ``taskset`` exists.

Quotes the lag from each matching event's ``occurred`` to the creation of its
``ActionRun`` row (p50, p99, max), then stops the services, records a backlog of
``--backlog`` events and times one evaluator (this process, one thread) draining it:
the evaluator's events per second at one core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from bench.compare import PY, ROOT, log, pinned


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
            {"prefect.resource.id": f"bench.resource.{(start + index) % 100}"},
            occurred=now,
            id=uuid.uuid4(),
        )
        for index in range(count)
    ]


def _produce(rate: int, seconds: float, fraction: float) -> int:
    """Record ``rate`` events a second for ``seconds``; how many were recorded."""
    from django.db import connections, transaction

    from events_app.services.record import record_events

    per_tick = max(1, rate // 100)
    sent = 0
    started = time.monotonic()
    tick = 0
    while time.monotonic() - started < seconds:
        with transaction.atomic():
            record_events(_events(per_tick, fraction, sent), workspace_id=1)  # type: ignore[arg-type]
        sent += per_tick
        tick += 1
        pause = started + tick / 100 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    connections.close_all()
    return sent


def _lags() -> list[float]:
    from automations_app.models import ActionRun

    lags = []
    for created, firing in ActionRun.objects.values_list("created", "firing"):
        occurred = dt.datetime.fromisoformat(firing["triggering_event"]["occurred"])
        lags.append((created - occurred).total_seconds())
    return lags


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.triggers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fraction", type=float, default=0.1, help="share of events the automation matches")
    parser.add_argument("--backlog", type=int, default=50_000, help="events for the throughput run")
    parser.add_argument("--cpu", default="1", help="core the services process is pinned to (empty: not pinned)")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="bench-triggers-"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "orion_project.settings", "ORION_DATA_DIR": str(scratch)}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    os.environ.clear()
    os.environ.update(env)
    manage = [PY, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True)

    import django

    django.setup()
    from django.db import connection

    from automations_app.background.triggers import evaluate_triggers
    from automations_app.models import ActionRun, Automation, AutomationBucket
    from events_app.models import Event, EventCursor, EventResource
    from orion_project.models import ServiceHeartbeat

    for model in (ActionRun, AutomationBucket, Automation, EventResource, Event, EventCursor):
        model.objects.all().delete()
    trigger = {
        "type": "event", "id": str(uuid.uuid4()), "match": {"prefect.resource.id": "bench.resource.*"},
        "match_related": {}, "after": [], "expect": ["bench.match"], "for_each": [], "posture": "Reactive",
        "threshold": 1, "within": 0.0,
    }  # fmt: skip
    Automation.objects.create(workspace_id=1, name="bench", trigger=trigger, actions=[{"type": "do-nothing"}])
    # The evaluator starts at the log's end.
    connection.close()

    log(f"{connection.vendor}: {args.rate} events/s for {args.seconds:.0f} s, {args.fraction:.0%} matching")
    launched = dt.datetime.now(dt.UTC)
    services = subprocess.Popen(
        pinned([*manage, "orion_services", "--only", "triggers"], args.cpu or None),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Produce once the services process has finished a pass (its start-up is no lag).
        deadline = time.monotonic() + 120
        while not ServiceHeartbeat.objects.filter(name="triggers", last_success__gte=launched).exists():
            assert time.monotonic() < deadline and services.poll() is None, "the services process did not start"
            time.sleep(0.2)
        produced: list[int] = []
        producer = threading.Thread(target=lambda: produced.append(_produce(args.rate, args.seconds, args.fraction)))
        producer.start()
        producer.join()
        expected = Event.objects.filter(event="bench.match").count()
        deadline = time.monotonic() + 60
        while ActionRun.objects.count() < expected and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        services.terminate()
        services.wait(timeout=30)
    lags = _lags()
    achieved = produced[0] / args.seconds
    print(f"\ntrigger lag, {connection.vendor}, {achieved:.0f} events/s recorded, {len(lags)}/{expected} actions")
    if lags:
        print(
            f"  occurred -> ActionRun: p50 {statistics.median(lags) * 1000:.0f} ms,"
            f" p99 {_percentile(lags, 0.99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
        )

    from django.db import transaction

    from events_app.services.record import record_events

    for start in range(0, args.backlog, 1000):
        with transaction.atomic():
            record_events(_events(min(1000, args.backlog - start), args.fraction, start), workspace_id=1)  # type: ignore[arg-type]
    started = time.perf_counter()
    read = 0
    while done := evaluate_triggers():
        read += done
    seconds = time.perf_counter() - started
    print(f"  evaluator, one thread: {read} events in {seconds:.1f} s = {read / seconds:.0f} events/s")
    return 0 if len(lags) == expected else 1


if __name__ == "__main__":
    sys.exit(main())
