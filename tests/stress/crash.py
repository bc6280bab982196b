"""Crash safety: SIGKILL the API, and separately the services, in the middle of load.

    python -m tests.stress.crash --db both --database-url URL

1. The API (granian, its whole process group) is killed while clients create flow runs,
   move them to RUNNING and write 20-line log batches. After a restart: every write a
   client saw accepted is there and complete (the run with the state it was told, every
   line of an accepted batch), every write it did not see is absent or complete (a batch
   has 0 or 20 lines), and every run's history is consistent.
   The same kill covers events: while it runs, the whole server (API and services) also
   takes client events through ``POST /events`` (batches of 10) and the ``/events/in``
   websocket (one event per message, a ping every 20 as the 2.20 client), every state
   it commits emits its flow-run event, and an automation fires on a share of the client
   events. After the restart the clients resend what they saw no answer for (a POST
   batch without an answer, websocket events after the last pong), as the 2.20 client
   does. Then: every client event is stored exactly once (the resent ones too); every
   committed flow-run state has exactly its one event and no flow-run event is without
   its state; the trigger, resumed from its cursor, has fired exactly once for each
   stored matching event, and each firing's action has run and has exactly one
   ``action.triggered`` and one ``action.executed`` event (a batch of actions cut by the
   kill is rolled back and run again; on SQLite a claimed one waits for its lease). A websocket event the server confirmed (its pong came) but
   had not yet written when it died is counted and shown: a pong says "received", and
   the client does not resend past it (the 2.20 reference, which writes events later
   through its broker, does the same).
2. The services process is killed while the scheduler fills 20 deployments' schedules;
   after a restart it finishes them with no duplicate scheduled run (one run per
   deployment and start time, and no deployment past its run cap).
Loopback only, bounded in time; exits non-zero on any failed check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any

from tests.stress.harness import ROOT, Server, add_database_arguments, database_targets, request

BATCH = 20
EVENT_BATCH = 10
MATCH_EVERY = 5  # every fifth client event is one the automation fires on
PING_EVERY = 20  # the 2.20 client's checkpoint


class Ledger:
    """What each client saw: accepted writes and writes whose answer never came."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[str, str] = {}  # run id → last state type the server accepted
        self.unseen_runs: list[str] = []  # names of runs whose creation got no answer
        self.batches: Counter[str] = Counter()  # run id → accepted log batches
        self.unseen_batches: Counter[str] = Counter()
        self.server_errors: list[str] = []


def writer(ledger: Ledger, base: str, flow_id: str, stop: threading.Event) -> None:
    while not stop.is_set():
        name = f"crash-{uuid.uuid4().hex}"
        try:
            status, run = request(
                base, "POST", "/flow_runs/", {"flow_id": flow_id, "name": name, "state": {"type": "PENDING"}}
            )
        except (OSError, http.client.HTTPException):  # killed mid-answer
            with ledger.lock:
                ledger.unseen_runs.append(name)
            return
        if status >= 500:
            ledger.server_errors.append(f"create: {status}")
            continue
        with ledger.lock:
            ledger.runs[run["id"]] = "PENDING"
        try:
            status, answer = request(base, "POST", f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}})
            if status < 300 and answer["status"] == "ACCEPT":
                with ledger.lock:
                    ledger.runs[run["id"]] = "RUNNING"
            lines = [
                {
                    "name": "crash",
                    "level": 20,
                    "message": f"{n}",
                    "timestamp": "2024-01-01T00:00:00Z",
                    "flow_run_id": run["id"],
                }
                for n in range(BATCH)
            ]
            status, _ = request(base, "POST", "/logs/", lines)
            if status == 201:
                with ledger.lock:
                    ledger.batches[run["id"]] += 1
        except (OSError, http.client.HTTPException):  # killed mid-answer
            with ledger.lock:
                ledger.unseen_batches[run["id"]] += 1
            return


class EventLedger:
    """What the event clients sent: acknowledged, unanswered (to resend), and the
    websocket events a pong confirmed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acknowledged: list[str] = []
        self.unanswered: list[dict[str, Any]] = []
        self.pong_confirmed: list[str] = []
        self.sent = 0


def client_event(number: int) -> dict[str, Any]:
    return {
        "occurred": dt.datetime.now(dt.UTC).isoformat(),
        "event": "crash.match" if number % MATCH_EVERY == 0 else "crash.other",
        "resource": {"prefect.resource.id": f"crash.resource.{number % 7}"},
        "payload": {"n": number},
        "id": str(uuid.uuid4()),
    }


def event_poster(ledger: EventLedger, base: str, stop: threading.Event, offset: int) -> None:
    """``POST /events`` in batches until stopped or the server goes away."""
    number = offset
    while not stop.is_set():
        batch = [client_event(number + index) for index in range(EVENT_BATCH)]
        number += EVENT_BATCH
        try:
            status, _ = request(base, "POST", "/events", batch)
        except (OSError, http.client.HTTPException):  # killed mid-answer
            with ledger.lock:
                ledger.unanswered.extend(batch)
            return
        with ledger.lock:
            ledger.sent += len(batch)
            if status < 300:
                ledger.acknowledged.extend(event["id"] for event in batch)
            else:
                ledger.unanswered.extend(batch)


def event_socket(ledger: EventLedger, base: str, stop: threading.Event, offset: int) -> None:
    """``/events/in``: one event per message, a ping every 20, as the 2.20 client."""
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    unconfirmed: list[dict[str, Any]] = []
    number = offset
    try:
        with connect(base.replace("http://", "ws://") + "/api/events/in", open_timeout=30) as socket:
            while not stop.is_set():
                event = client_event(number)
                number += 1
                unconfirmed.append(event)
                socket.send(json.dumps(event))
                if len(unconfirmed) >= PING_EVERY:
                    if not socket.ping().wait(30):
                        raise TimeoutError("no pong")
                    with ledger.lock:
                        ledger.pong_confirmed.extend(item["id"] for item in unconfirmed)
                        ledger.sent += len(unconfirmed)
                    unconfirmed = []
    except (OSError, TimeoutError, WebSocketException):  # killed
        pass
    with ledger.lock:
        ledger.sent += len(unconfirmed)
        ledger.unanswered.extend(unconfirmed)


def resend(ledger: EventLedger, base: str) -> None:
    """What a client does on reconnecting: send again what got no answer."""
    for start in range(0, len(ledger.unanswered), 100):
        status, answer = request(base, "POST", "/events", ledger.unanswered[start : start + 100])
        assert status < 300, (status, answer)


def check_events(server: Server, ledger: EventLedger) -> dict[str, Any]:
    """The database's view of the events (``events-check`` below, in the server's env)."""
    expected = {
        "posted": ledger.acknowledged + [event["id"] for event in ledger.unanswered],
        "confirmed": ledger.pong_confirmed,
    }
    return checked_in(server, ["tests.stress.crash", "events-check"], json.dumps(expected))


def events_check(expected: dict[str, list[str]]) -> dict[str, Any]:
    """Needs Django set up: the checks of the events after the restart."""
    from automations_app.models import ActionRun
    from events_app.models import Event
    from runs_app.models import FlowRunState

    problems: list[str] = []
    stored = Counter(
        str(value) for value in Event.objects.filter(event__startswith="crash.").values_list("uuid", flat=True)
    )
    problems += [f"event {key} stored {count} times" for key, count in stored.items() if count > 1]
    missing = [key for key in expected["posted"] if key not in stored]
    problems += [f"acknowledged or resent event {key} is missing" for key in missing[:20]]
    lost = [key for key in expected["confirmed"] if key not in stored]
    states = {str(key) for key in FlowRunState.objects.values_list("id", flat=True)}
    emitted = Counter(
        str(key) for key in Event.objects.filter(event__startswith="prefect.flow-run.").values_list("uuid", flat=True)
    )
    problems += [f"state {key} has {emitted[key]} events" for key in states if emitted[key] != 1][:20]
    problems += [f"event {key} of no committed state" for key in emitted if key not in states][:20]
    matching = {str(key) for key in Event.objects.filter(event="crash.match").values_list("uuid", flat=True)}
    fired = Counter(
        str(firing["triggering_event"]["id"]) for firing in ActionRun.objects.values_list("firing", flat=True)
    )
    problems += [f"matching event {key} fired {fired[key]} times" for key in matching if fired[key] != 1][:20]
    problems += [f"a firing for event {key}, which is not a stored matching event" for key in fired if key not in matching][:20]  # fmt: skip
    runs = dict(ActionRun.objects.values_list("id", "status"))
    outcomes = Counter(
        (str(payload["invocation"]), name.rpartition(".")[2])
        for name, payload in Event.objects.filter(event__startswith="prefect.automation.action.").values_list(
            "event", "payload"
        )
    )
    problems += [f"action {key} is {status}" for key, status in runs.items() if status != "done"][:20]
    problems += [
        f"action {key} has {outcomes[(str(key), kind)]} {kind} events"
        for key in runs
        for kind in ("triggered", "executed")
        if outcomes[(str(key), kind)] != 1
    ][:20]
    problems += [f"an outcome of no action: {key}" for key, _ in outcomes if uuid.UUID(key) not in runs][:20]
    return {
        "stored": len(stored),
        "states": len(states),
        "matching": len(matching),
        "fired": sum(fired.values()),
        "pending_actions": sum(status == "pending" for status in runs.values()),
        "lost_after_pong": len(lost),
        "problems": problems,
    }


def wait_for_trigger(server: Server, ledger: EventLedger, timeout: float = 90) -> dict[str, Any]:
    """The events' checks once the restarted trigger has caught up (or at ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        report = check_events(server, ledger)
        caught_up = report["fired"] >= report["matching"] and not report["pending_actions"]
        if caught_up or time.monotonic() > deadline:
            return report
        time.sleep(2)


def checked_in(server: Server, module: list[str], stdin: str | None = None) -> dict[str, Any]:
    """The JSON report a check module prints, run against the server's database."""
    done = subprocess.run(
        [sys.executable, "-m", *module],
        input=stdin,
        env=server.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def consistency(server: Server) -> dict[str, Any]:
    return checked_in(server, ["tests.stress.consistency"])


def kill_api_under_load(server: Server, clients: int, seconds: float) -> list[str]:
    base = server.base_url
    _, flow = request(base, "POST", "/flows/", {"name": "crash-flow"})
    trigger = {"type": "event", "match": {"prefect.resource.id": "crash.resource.*"}, "expect": ["crash.match"],
               "posture": "Reactive", "threshold": 1, "within": 0}  # fmt: skip
    status, answer = request(
        base, "POST", "/automations/", {"name": "crash", "trigger": trigger, "actions": [{"type": "do-nothing"}]}
    )
    assert status == 201, (status, answer)
    ledger = Ledger()
    events = EventLedger()
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(ledger, base, flow["id"], stop)) for _ in range(clients)]
    threads += [
        threading.Thread(target=target, args=(events, base, stop, index * 10_000_000))
        for index, target in enumerate((event_poster, event_poster, event_socket, event_socket))
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    server.kill("server", signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    server.start("server")
    resend(events, base)
    problems = list(ledger.server_errors)
    for run_id, state_type in ledger.runs.items():
        status, run = request(base, "GET", f"/flow_runs/{run_id}")
        if status != 200:
            problems.append(f"accepted run {run_id} is missing ({status})")
            continue
        if state_type == "RUNNING" and run["state_type"] != "RUNNING":
            problems.append(f"run {run_id}: accepted RUNNING, found {run['state_type']}")
        _, lines = request(base, "POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200})
        seen, unseen = ledger.batches[run_id], ledger.unseen_batches[run_id]
        if len(lines) not in {BATCH * (seen + extra) for extra in range(unseen + 1)}:
            problems.append(f"run {run_id}: {len(lines)} log lines for {seen} accepted and {unseen} unanswered batches")
    for name in ledger.unseen_runs:
        _, found = request(base, "POST", "/flow_runs/filter", {"flow_runs": {"name": {"any_": [name]}}})
        if len(found) > 1:
            problems.append(f"unanswered run {name} stored {len(found)} times")
    report = consistency(server)
    problems.extend(report["problems"])
    print(
        f"   API kill: {len(ledger.runs)} runs accepted, {sum(ledger.batches.values())} log batches accepted, "
        f"{len(ledger.unseen_runs) + sum(ledger.unseen_batches.values())} writes unanswered; "
        f"{report['runs']} runs checked after restart"
    )
    found = wait_for_trigger(server, events)
    problems.extend(found["problems"])
    print(
        f"   events: {events.sent} client events sent, {len(events.acknowledged)} acknowledged by POST, "
        f"{len(events.pong_confirmed)} confirmed by a pong, {len(events.unanswered)} resent after the restart; "
        f"{found['stored']} stored, {found['lost_after_pong']} confirmed by a pong but lost in the kill; "
        f"{found['states']} flow-run states each with its event; {found['fired']} firings for "
        f"{found['matching']} matching events, their actions run once each"
    )
    # The services phase below runs its own services process.
    server.kill("server", signal.SIGTERM)
    server.start("api", services=False)
    return problems


def kill_services_under_load(server: Server, deployments: int) -> list[str]:
    base = server.base_url
    _, flow = request(base, "POST", "/flows/", {"name": "crash-scheduled"})
    deployment_ids = [
        request(
            base,
            "POST",
            "/deployments/",
            {"name": f"d{index}", "flow_id": flow["id"], "schedule": {"interval": 60}, "is_schedule_active": True},
        )[1]["id"]
        for index in range(deployments)
    ]
    server.start("services", api=False, services=True)
    # Kill it once the scheduler has begun to write, i.e. mid-pass.
    scheduled = {"flow_runs": {"deployment_id": {"is_null_": False}}}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and request(base, "POST", "/flow_runs/count", scheduled)[1] == 0:
        time.sleep(0.05)
    before = request(base, "POST", "/flow_runs/count", scheduled)[1]
    server.kill("services", signal.SIGKILL)
    server.start("services", api=False, services=True)
    # Let the restarted services finish: every deployment has runs and the total has not
    # moved between two polls a few scheduler passes apart (bounded: a services process
    # that never resumes fails the checks below).
    deadline = time.monotonic() + 120
    previous = -1
    while time.monotonic() < deadline:
        time.sleep(5)
        per_deployment_now = [
            request(base, "POST", "/flow_runs/count", {"deployments": {"id": {"any_": [deployment_id]}}})[1]
            for deployment_id in deployment_ids
        ]
        total = sum(per_deployment_now)
        if all(per_deployment_now) and total == previous:
            break
        previous = total
    server.kill("services", signal.SIGTERM)
    problems: list[str] = []
    per_key: Counter[tuple[str, str]] = Counter()
    per_deployment: Counter[str] = Counter()
    offset = 0
    while True:
        _, page = request(base, "POST", "/flow_runs/filter", {"flow_runs": {}, "limit": 200, "offset": offset})
        if not page:
            break
        for run in page:
            if run["deployment_id"]:
                per_key[(run["deployment_id"], run["expected_start_time"])] += 1
                per_deployment[run["deployment_id"]] += 1
        offset += len(page)
    duplicates = [key for key, count in per_key.items() if count > 1]
    problems.extend(f"deployment {d}: {count} runs at {t}" for (d, t), count in per_key.items() if count > 1)
    print(f"   runs per deployment: {sorted(per_deployment.values())}")
    over_cap = [d for d, count in per_deployment.items() if count > 100]
    problems.extend(f"deployment {d}: {per_deployment[d]} runs, over the cap of 100" for d in over_cap)
    if len(per_deployment) != deployments:
        problems.append(f"only {len(per_deployment)} of {deployments} deployments were scheduled after the restart")
    report = consistency(server)
    problems.extend(report["problems"])
    print(
        f"   services kill: {before} runs written before the kill, {sum(per_deployment.values())} after the restart, "
        f"{len(duplicates)} duplicates"
    )
    return problems


def crash_one(*, label: str, port: int, database_url: str | None, clients: int) -> bool:
    server = Server(
        port=port,
        database_url=database_url,
        extra_env={"ORION_SCHEDULER_INTERVAL_SECONDS": "2", "ORION_ACTIONS_LEASE_SECONDS": "30"},
    )
    server.prepare()
    print(f"== crash test on {label}")
    server.start("server")
    try:
        problems = kill_api_under_load(server, clients, seconds=8)
        problems += kill_services_under_load(server, deployments=20)
    finally:
        server.stop()
    for problem in problems[:30]:
        print(f"     {problem}")
    print(f"   {'clean' if not problems else f'FAILED ({len(problems)} problems)'}")
    return not problems


def main(argv: list[str] | None = None) -> int:
    if (argv if argv is not None else sys.argv[1:])[:1] == ["events-check"]:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orion_project.settings")
        django.setup()
        print(json.dumps(events_check(json.load(sys.stdin))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser, port=4473)
    parser.add_argument("--clients", type=int, default=6)
    options = parser.parse_args(argv)
    targets = database_targets(parser, options)
    clean = True
    for label, url in targets:
        clean &= crash_one(label=label, port=options.port, database_url=url, clients=options.clients)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
