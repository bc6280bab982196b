"""The event websockets through a real ``orion_start`` (one port for HTTP and websockets),
as the 2.20 client uses them: ``/events/in`` records what ``PrefectEventsClient`` sends,
``/events/out`` answers ``PrefectEventSubscriber``'s handshake, backfills and streams.
The close codes and reasons are the 2.20 reference's where it sends one (see
``events_app.api.sockets`` for where it drops the connection instead)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus

from events_app.models import Event
from events_app.services.record import NewEvent, record_events
from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from tests.events.sockets import (
    authenticated,
    closed_with,
    event_document,
    eventually,
    live_filter,
    nothing_more,
    received_events,
    send_json,
    server,
    socket,
    subscriber,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def port(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with server(tmp_path_factory.mktemp("orion-data")) as chosen:
        yield chosen


def _nested(levels: int) -> object:
    value: object = "deep"
    for _ in range(levels):
        value = {"a": value}
    return value


def _names(workspace_id: int = DEFAULT_WORKSPACE_ID) -> list[str]:
    return list(Event.objects.filter(workspace_id=workspace_id).order_by("seq").values_list("event", flat=True))


def test_a_socket_path_over_plain_http_is_not_found(port: int) -> None:
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/events/in", timeout=10)
    assert answer.value.code == 404
    assert json.loads(answer.value.read()) == {"detail": "Not Found"}


def test_events_in_records_each_message_as_the_2_20_client_sends_them(port: int) -> None:
    sent = [
        event_document("test.one", "my.resource.1", payload={"a": 1}),
        event_document(
            "test.two",
            "my.resource.2",
            related=[{"prefect.resource.id": "my.flow", "prefect.resource.role": "flow"}],
        ),
        event_document("test.three", "my.resource.3", follows=str(uuid.uuid4())),
    ]
    with socket(port, "/events/in") as connection:
        assert connection.subprotocol is None
        for document in sent:
            send_json(connection, document)
        connection.ping().wait(10)
    eventually(lambda: len(_names()) == 3)
    stored = {str(row.uuid): row for row in Event.objects.all()}
    for document in sent:
        row = stored[document["id"]]
        assert (row.event, row.resource, row.related, row.payload) == (
            document["event"],
            document["resource"],
            document["related"],
            document["payload"],
        )
        assert row.occurred == dt.datetime.fromisoformat(document["occurred"])
        assert (str(row.follows) if row.follows else None) == document["follows"]


def test_a_client_outrunning_the_writes_has_every_event_stored_once_in_order(port: int) -> None:
    # Far more events than a socket holds waiting (MAX_PENDING_EVENTS), sent without a
    # pause: the socket stops reading while they are written, and loses none.
    names = [f"test.burst.{number}" for number in range(1500)]
    with socket(port, "/events/in") as connection:
        for name in names:
            send_json(connection, event_document(name, f"my.resource.{len(name) % 7}"))
        connection.ping().wait(30)
    eventually(lambda: len(_names()) == len(names), seconds=60)
    assert _names() == names


def test_an_auth_message_first_is_answered_then_events_follow(port: int) -> None:
    with authenticated(socket(port, "/events/in")) as connection:
        send_json(connection, event_document("test.after-auth"))
        connection.ping().wait(10)
    assert eventually(lambda: _names() == ["test.after-auth"])


def test_events_in_of_a_workspace_records_in_that_workspace(port: int) -> None:
    team = Workspace.objects.create(slug="team-a", name="team-a")
    with socket(port, "/workspaces/team-a/events/in") as connection:
        send_json(connection, event_document("test.team"))
        connection.ping().wait(10)
    assert eventually(lambda: _names(team.id) == ["test.team"])
    assert _names() == []
    with socket(port, "/workspaces/nope/events/in") as connection:
        send_json(connection, event_document())
        assert closed_with(connection) == (1008, "Workspace 'nope' not found.")


@pytest.mark.parametrize(
    ("message", "code", "reason"),
    [
        ("not json", 1007, "Invalid event: not a JSON document"),
        (json.dumps({**event_document(), "resource": {}}), 1007, "Invalid event: resource: "),
        (json.dumps({**event_document(), "occurred": "yesterday"}), 1007, "Invalid event: occurred: "),
        (json.dumps([event_document()]), 1007, "Invalid event: "),
        # Stored, it could not be written back into any answer (the HTTP body limit).
        (json.dumps({**event_document(), "payload": _nested(300)}), 1007, "Invalid event: "),
        (json.dumps(event_document()).encode(), 1003, "Expected text messages"),
    ],
    ids=["not-json", "no-resource-id", "bad-time", "a-list", "300-levels", "binary"],
)
def test_a_bad_message_closes_events_in_and_keeps_what_came_before(
    port: int, message: str | bytes, code: int, reason: str
) -> None:
    with socket(port, "/events/in") as connection:
        send_json(connection, event_document("test.before"))
        connection.send(message)
        closed = closed_with(connection)
    assert closed[0] == code
    assert closed[1].startswith(reason), closed
    assert eventually(lambda: _names() == ["test.before"])


def test_an_event_over_the_size_limit_is_dropped_and_the_socket_stays_open(port: int) -> None:
    with socket(port, "/events/in", max_size=None) as connection:
        send_json(connection, event_document("test.huge", payload={"x": "a" * 1_600_000}))
        send_json(connection, event_document("test.small"))
        connection.ping().wait(10)
    assert eventually(lambda: _names() == ["test.small"])


def test_events_out_refuses_a_client_without_the_prefect_subprotocol(port: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        socket(port, "/events/out")
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize(
    ("messages", "code", "reason"),
    [
        ([{"type": "filter", "filter": {}}], 1008, "Expected 'auth' message"),
        (["not json"], 1008, "Expected 'auth' message"),
        ([{"type": "auth", "token": None}, {"type": "nope"}], 1002, "Expected 'filter' message"),
        ([{"type": "auth", "token": None}, {"type": "filter"}], 1002, "Invalid filter: 'filter'"),
        (
            [{"type": "auth", "token": None}, {"type": "filter", "filter": {"occurred": {"since": "nope"}}}],
            1002,
            "Invalid filter: occurred.since: ",
        ),
        (
            [{"type": "auth", "token": None}, {"type": "filter", "filter": {"unknown": 1}}],
            1002,
            "Invalid filter: unknown: ",
        ),
    ],
    ids=["filter-first", "not-json", "not-a-filter", "no-filter", "bad-time", "unknown-field"],
)
def test_events_out_handshake_errors(port: int, messages: list[object], code: int, reason: str) -> None:
    with subscriber(port) as connection:
        assert connection.subprotocol == "prefect"
        for message in messages:
            connection.send(message if isinstance(message, str) else json.dumps(message))
        closed = closed_with(connection)
    assert closed[0] == code
    assert closed[1].startswith(reason), closed


def _recorded(name: str, minutes_ago: float, resource_id: str = "my.resource") -> NewEvent:
    occurred = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return NewEvent(event=name, resource={"prefect.resource.id": resource_id}, occurred=occurred, id=uuid.uuid4())


def test_events_out_backfills_oldest_first_then_streams_what_is_recorded(port: int) -> None:
    # Recorded out of order, and one the filter does not match.
    earlier = [_recorded("test.b", 0.5), _recorded("test.a", 0.9), _recorded("other.x", 0.7)]
    record_events(earlier, workspace_id=DEFAULT_WORKSPACE_ID)
    with authenticated(subscriber(port)) as connection:
        send_json(connection, live_filter(event={"prefix": ["test."]}))
        backfill = received_events(connection, 2)
        assert [event["event"] for event in backfill] == ["test.a", "test.b"]
        assert set(backfill[0]) == {"occurred", "event", "resource", "related", "payload", "id", "follows", "received"}
        with socket(port, "/events/in") as writer:
            for name in ("other.live", "test.live", "test.live-2"):
                send_json(writer, event_document(name))
        live = received_events(connection, 2)
        assert [event["event"] for event in live] == ["test.live", "test.live-2"]
        # An event recorded by another process (the services process, say) is streamed too.
        record_events([_recorded("test.from-elsewhere", 0)], workspace_id=DEFAULT_WORKSPACE_ID)
        assert [event["event"] for event in received_events(connection, 1)] == ["test.from-elsewhere"]
        assert nothing_more(connection)


def test_events_out_without_backfill_streams_only_what_comes_next(port: int) -> None:
    record_events([_recorded("test.old", 0.2)], workspace_id=DEFAULT_WORKSPACE_ID)
    with authenticated(subscriber(port)) as connection:
        send_json(connection, {**live_filter(), "backfill": False})
        assert nothing_more(connection, 1)
        record_events([_recorded("test.new", 0)], workspace_id=DEFAULT_WORKSPACE_ID)
        assert [event["event"] for event in received_events(connection, 1)] == ["test.new"]


def test_the_backfill_is_the_newest_thousand(port: int) -> None:
    record_events(
        [_recorded(f"test.{index}", 0.9 - index * 0.0008) for index in range(1001)],
        workspace_id=DEFAULT_WORKSPACE_ID,
    )
    with authenticated(subscriber(port)) as connection:
        send_json(connection, live_filter())
        names = [event["event"] for event in received_events(connection, 1000)]
        assert names == [f"test.{index}" for index in range(1, 1001)]
        assert nothing_more(connection, 1)


def test_events_out_streams_only_its_workspace(port: int) -> None:
    team = Workspace.objects.create(slug="team-b", name="team-b")
    with authenticated(subscriber(port, "/workspaces/team-b/events/out")) as connection:
        send_json(connection, live_filter())
        assert nothing_more(connection, 1)
        record_events([_recorded("test.default", 0)], workspace_id=DEFAULT_WORKSPACE_ID)
        record_events([_recorded("test.team", 0)], workspace_id=team.id)
        assert [event["event"] for event in received_events(connection, 1)] == ["test.team"]
        assert nothing_more(connection)


def test_socket_handshakes_are_counted_in_the_request_metrics(port: int) -> None:
    with authenticated(subscriber(port)) as connection:
        send_json(connection, live_filter())
        assert nothing_more(connection, 0.5)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'route="events-out"' in metrics
