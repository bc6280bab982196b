"""Helpers of the websocket tests: a real ``orion_start`` on the test database, and a
websocket client as the 2.20 client uses it (the ``websockets`` package)."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.helpers import api_healthy, database_url, free_port, kill_process_group, orion_start


@contextmanager
def server(data_dir: Path, **env: str) -> Iterator[int]:
    """``orion_start`` (API only, one worker) on the test database: its port."""
    environ = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environ.update(DATABASE_URL=database_url(connection.settings_dict), ORION_DATA_DIR=str(data_dir), **env)
    port = free_port()
    process = orion_start(environ, "--no-services", "--port", str(port), "--workers", "1", "--threads", "4")
    try:
        assert api_healthy(port), "orion_start did not answer /api/health"
        yield port
    finally:
        kill_process_group(process)


def socket(port: int, path: str, **kwargs: Any) -> ClientConnection:
    """A websocket to ``/api{path}`` (``path`` may start ``/workspaces/<slug>``)."""
    return connect(f"ws://127.0.0.1:{port}/api{path}", open_timeout=20, close_timeout=5, **kwargs)


def subscriber(port: int, path: str = "/events/out") -> ClientConnection:
    """An ``/events/out`` socket, as ``PrefectEventSubscriber`` opens it."""
    return socket(port, path, subprotocols=["prefect"])  # type: ignore[list-item]


def send_json(connection_: ClientConnection, value: Any) -> None:
    connection_.send(json.dumps(value))


def receive_json(connection_: ClientConnection, timeout: float = 10) -> Any:
    return json.loads(connection_.recv(timeout=timeout))


def closed_with(connection_: ClientConnection, timeout: float = 10) -> tuple[int, str]:
    """The close code and reason the server ends the connection with (what it sends
    before that is skipped)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            connection_.recv(timeout=max(deadline - time.monotonic(), 0.1))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed without a close frame"
        return closed.rcvd.code, closed.rcvd.reason
    except TimeoutError:
        pass
    raise AssertionError("the server did not close the connection")


@contextmanager
def authenticated(opening: ClientConnection, token: str | None = None) -> Iterator[ClientConnection]:
    """The socket ``opening`` opens, past the auth message and its answer."""
    with opening as connection_:
        send_json(connection_, {"type": "auth", "token": token})
        assert receive_json(connection_) == {"type": "auth_success"}
        yield connection_


def event_document(name: str = "test.one", resource_id: str = "my.resource", **fields: Any) -> dict[str, Any]:
    """An ``Event`` as the 2.20 client serialises one."""
    return {
        "occurred": dt.datetime.now(dt.UTC).isoformat(),
        "event": name,
        "resource": {"prefect.resource.id": resource_id},
        "related": [],
        "payload": {},
        "id": str(uuid.uuid4()),
        "follows": None,
        **fields,
    }


def live_filter(**criteria: Any) -> dict[str, Any]:
    """A filter message for events from a minute ago on (as the 2.20 subscriber sends)."""
    now = dt.datetime.now(dt.UTC)
    occurred = {"since": (now - dt.timedelta(minutes=1)).isoformat(), "until": (now + dt.timedelta(days=1)).isoformat()}
    return {"type": "filter", "filter": {"occurred": occurred, **criteria}}


def eventually(check: Callable[[], Any], seconds: float = 15) -> Any:
    """``check()`` once it is true (polled), or fail."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, "timed out"
            return value
        time.sleep(0.1)


def received_events(connection_: ClientConnection, count: int, timeout: float = 15) -> list[dict[str, Any]]:
    """The next ``count`` events sent on an ``/events/out`` socket."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(events) < count:
        message = receive_json(connection_, timeout=max(deadline - time.monotonic(), 0.1))
        assert message["type"] == "event"
        events.append(message["event"])
    return events


def nothing_more(connection_: ClientConnection, seconds: float = 1.5) -> bool:
    """Whether the socket stays quiet for ``seconds``."""
    try:
        connection_.recv(timeout=seconds)
    except TimeoutError:
        return True
    return False
