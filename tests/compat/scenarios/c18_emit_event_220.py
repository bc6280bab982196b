"""2.20 with ``PREFECT_EXPERIMENTAL_EVENTS=true``: ``emit_event`` from a flow's own code
arrives over the ``/events/in`` websocket (the client's ``PrefectEventsClient``), and
``POST /events/filter`` lists it with its resource, the run's related resources and its
payload. Under ``ORION_AUTH=api-key`` the 2.20 client sends no key on that websocket, so
the server refuses its events: then the flow must still complete and nothing is stored."""

import asyncio
import os
import time

# The events client is chosen from the settings when the first event is sent.
os.environ["PREFECT_EXPERIMENTAL_EVENTS"] = "true"

from _support import RUN_ID, check, client, run
from prefect import flow
from prefect.events import emit_event
from prefect.events.worker import EventsWorker

NAME = f"compat.c18.{RUN_ID}.done"
RESOURCE = f"compat.c18.{RUN_ID}"


@flow(name=f"compat-c18-{RUN_ID}")
def emitting():
    event = emit_event(event=NAME, resource={"prefect.resource.id": RESOURCE, "team": "data"}, payload={"rows": 3})
    return str(event.id) if event else None


async def listed():
    async with client() as api:
        response = await api._client.post("/events/filter", json={"filter": {"event": {"name": [NAME]}}, "limit": 10})
        response.raise_for_status()
        return response.json()["events"]


def main():
    state = emitting(return_state=True)
    check(state.type.value == "COMPLETED", f"state {state.type}")
    event_id = state.result()
    check(event_id, "emit_event returned no event: are events on in the client?")
    EventsWorker.drain_all(timeout=30)
    refused = bool(os.environ.get("PREFECT_API_KEY"))
    deadline = time.monotonic() + (5 if refused else 30)
    events = asyncio.run(listed())
    while not events and time.monotonic() < deadline:
        time.sleep(0.5)
        events = asyncio.run(listed())
    if refused:
        check(events == [], f"an event the server should have refused was stored: {events}")
        return "the key-less websocket was refused; the flow completed"
    check(len(events) == 1, f"{len(events)} events named {NAME}")
    event = events[0]
    check(event["id"] == event_id, f"id {event['id']} != {event_id}")
    check(event["resource"] == {"prefect.resource.id": RESOURCE, "team": "data"}, f"resource {event['resource']}")
    check(event["payload"] == {"rows": 3}, f"payload {event['payload']}")
    run_id = str(state.state_details.flow_run_id)
    roles = {item["prefect.resource.role"]: item["prefect.resource.id"] for item in event["related"]}
    check(roles.get("flow-run") == f"prefect.flow-run.{run_id}", f"related {event['related']}")
    return f"event {event_id} listed by /events/filter with its flow run"


run(main)
