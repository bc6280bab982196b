"""The two event websockets of the 2.20 API, as its reference server answers them.

``/events/in`` (the 2.20 client's ``PrefectEventsClient``): every text message is one
``Event``, recorded through :func:`events_app.services.record.record_events`. While one
batch is being written the messages that arrive are kept and written together next, so
a busy socket costs one transaction per batch, not per event. Closing codes: ``1007``
for a message that is not a valid event (the reference drops the connection without a
close frame), ``1003`` for a binary message, ``1009`` past :data:`MAX_MESSAGE_BYTES`
(the reference's frame limit). An event over ``events_app.schema.MAX_EVENT_BYTES`` is
dropped and the socket stays open, as the reference does.

``/events/out`` (``PrefectEventSubscriber``): the client offers the ``prefect``
subprotocol (without it the handshake is refused, 403), sends ``{"type": "auth",
"token": ...}`` (answered ``{"type": "auth_success"}``), then ``{"type": "filter",
"filter": EventFilter, "backfill": true}``; the server sends the backfill (up to 1,000
events, :func:`events_app.log.backfill`) and then every event recorded from then on that
the filter matches, each as ``{"type": "event", "event": ReceivedEvent}``.

Who may: the handshake is run through the HTTP stack as ``GET`` of the socket's path
(:meth:`orion_project.serving.Websocket.check_access`), with the auth message's token as
the Bearer key when there is one, so workspaces, keys, roles (``/events/in`` needs
``runner``, ``/events/out`` ``viewer``), origins and request metrics are the HTTP API's.
``/events/in`` checks on its first message: an auth message there is answered as on
``/events/out`` (what later clients send), any other message is an event of a client that
authenticates by its ``Authorization`` header, as the 2.20 client does (with none under
``ORION_AUTH=api-key`` it is refused, ``1008``, with the HTTP answer's reason).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import orjson
from django.db import close_old_connections, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path
from rest_framework.exceptions import ValidationError

from events_app.api.live import LIVE, Subscription
from events_app.api.serializers import EventFilterSerializer
from events_app.log import backfill
from events_app.schema import EventsInvalid, event_json, parse_event
from events_app.services.record import NewEvent, record_events
from orion_project.serving import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_INVALID_DATA,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG,
    WEBSOCKET_ENVIRON_KEY,
    Websocket,
    WebsocketClosed,
)

logger = logging.getLogger("orion.events")

SUBPROTOCOL = "prefect"
# The largest message taken (the reference's websocket frame limit, 16 MiB).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CLOSE_UNSUPPORTED_DATA = 1003


def handshake(request: HttpRequest) -> JsonResponse:
    """A websocket's handshake, run through the HTTP stack by the websocket server once the
    door let it in: the workspace it is for. Sent as a plain HTTP request it is not found,
    as in the reference."""
    if not request.META.get(WEBSOCKET_ENVIRON_KEY):
        return JsonResponse({"detail": "Not Found"}, status=404)
    return JsonResponse({"workspace_id": request.workspace.id})  # type: ignore[attr-defined]


def urlpatterns() -> list[URLPattern]:
    """The websockets' paths, so the access rules and metrics know them."""
    return [
        path("events/in", handshake, name="events-in"),
        path("events/out", handshake, name="events-out"),
    ]


def _db(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``function`` on a server thread as a request would: with a usable connection."""
    close_old_connections()
    return function(*args, **kwargs)


def _loads(message: str | bytes) -> Any:
    try:
        return orjson.loads(message)
    except orjson.JSONDecodeError:
        return None


def _is_auth(message: Any) -> bool:
    return isinstance(message, Mapping) and message.get("type") == "auth"


async def _authorize(socket: Websocket, token: str | None) -> int | None:
    """The workspace the socket may act in, or ``None`` after closing it with the reason
    the HTTP stack refused it."""
    status, answer = await socket.check_access(socket.scope["path"], token)
    if status == 200 and isinstance(answer.get("workspace_id"), int):
        return int(answer["workspace_id"])
    await socket.close(CLOSE_POLICY_VIOLATION, str(answer.get("detail") or f"Refused ({status})"))
    return None


def _token(message: Any) -> str | None:
    token = message.get("token") if isinstance(message, Mapping) else None
    return token if isinstance(token, str) and token else None


# ------------------------------------------------------------------------ /events/in


# The most events a socket holds received but not yet being written: past it the socket
# reads no more until they are written, so a client sending faster than the database
# takes its events is slowed down (TCP pushes back) instead of the server holding an
# ever longer queue of events it has confirmed, which a crash would lose.
MAX_PENDING_EVENTS = 100


class _Recorder:
    """Writes the events of one socket in batches: what arrived while the last batch was
    being written goes into the next one (at most :data:`MAX_PENDING_EVENTS`)."""

    def __init__(self, socket: Websocket, workspace_id: int) -> None:
        self.socket, self.workspace_id = socket, workspace_id
        self.pending: list[NewEvent] = []
        self.task: asyncio.Task[None] | None = None

    def add(self, event: NewEvent) -> None:
        self.pending.append(event)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                await self.socket.run_sync(_db, _record, batch, self.workspace_id)
            except Exception:
                logger.exception("Could not record %s events from a websocket", len(batch))
                await self.socket.close(CLOSE_INTERNAL_ERROR, "Could not record the events")
                return

    async def make_room(self) -> None:
        """Wait for the writes to catch up if :data:`MAX_PENDING_EVENTS` are waiting."""
        if len(self.pending) >= MAX_PENDING_EVENTS:
            await self.finish()

    async def finish(self) -> None:
        if self.task is not None:
            await self.task


def _record(batch: list[NewEvent], workspace_id: int) -> None:
    with transaction.atomic():
        record_events(batch, workspace_id=workspace_id)


def _invalid_event_reason(error: EventsInvalid) -> str:
    first = error.errors[0] if error.errors else {"loc": [], "msg": str(error)}
    where = ".".join(str(part) for part in first["loc"][1:] if part != "__root__")
    return f"Invalid event: {where + ': ' if where else ''}{first['msg']}"


async def events_in(socket: Websocket) -> None:
    """``/events/in``: record each event sent."""
    await socket.accept()
    recorder: _Recorder | None = None
    try:
        while True:
            message = await socket.receive_text()
            data = _loads(message) if isinstance(message, str) else None
            if recorder is None:
                auth = _is_auth(data)
                workspace_id = await _authorize(socket, _token(data) if auth else None)
                if workspace_id is None:
                    return
                recorder = _Recorder(socket, workspace_id)
                if auth:
                    await socket.send_json({"type": "auth_success"})
                    continue
            if isinstance(message, bytes):
                await socket.close(CLOSE_UNSUPPORTED_DATA, "Expected text messages")
                return
            if len(message) > MAX_MESSAGE_BYTES:
                await socket.close(CLOSE_TOO_BIG, f"Message over {MAX_MESSAGE_BYTES} bytes")
                return
            if data is None and message.strip() != "null":
                await socket.close(CLOSE_INVALID_DATA, "Invalid event: not a JSON document")
                return
            try:
                event = parse_event(data)
            except EventsInvalid as error:
                await socket.close(CLOSE_INVALID_DATA, _invalid_event_reason(error))
                return
            if event is not None:
                recorder.add(event)
                await recorder.make_room()
    except WebsocketClosed:
        pass
    finally:
        if recorder is not None:
            await recorder.finish()


# ----------------------------------------------------------------------- /events/out


def _parse_filter(value: Any) -> dict[str, Any]:
    try:
        return dict(EventFilterSerializer().run_validation(value if value is not None else {}))
    except ValidationError as error:
        raise ValueError(_first_message(error.detail)) from None


def _first_message(detail: Any, where: str = "") -> str:
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            return _first_message(value, f"{where}.{key}" if where else str(key))
    if isinstance(detail, list) and detail:
        return _first_message(detail[0], where)
    return f"{where}: {detail}" if where else str(detail)


async def events_out(socket: Websocket) -> None:
    """``/events/out``: backfill, then the matching events as they are recorded."""
    if SUBPROTOCOL not in socket.subprotocols:
        await socket.reject()
        return
    await socket.accept(SUBPROTOCOL)
    message = _loads(await socket.receive_text())
    if not _is_auth(message):
        await socket.close(CLOSE_POLICY_VIOLATION, "Expected 'auth' message")
        return
    workspace_id = await _authorize(socket, _token(message))
    if workspace_id is None:
        return
    await socket.send_json({"type": "auth_success"})
    message = _loads(await socket.receive_text())
    if not isinstance(message, Mapping) or message.get("type") != "filter":
        await socket.close(CLOSE_PROTOCOL_ERROR, "Expected 'filter' message")
        return
    if "filter" not in message:
        await socket.close(CLOSE_PROTOCOL_ERROR, "Invalid filter: 'filter'")
        return
    try:
        filters = _parse_filter(message["filter"])
    except ValueError as error:
        await socket.close(CLOSE_PROTOCOL_ERROR, f"Invalid filter: {error}")
        return
    # Subscribe first, so nothing recorded while the backfill is read is missed.
    async with LIVE.subscription(socket, workspace_id=workspace_id, filters=filters) as subscription:
        sent: set[str] = set()
        if message.get("backfill", True):
            for row in await socket.run_sync(_db, backfill, filters=filters, workspace_id=workspace_id):
                document = event_json(row)
                sent.add(document["id"])
                await socket.send_json({"type": "event", "event": document})
        await _stream(socket, subscription, sent)


async def _stream(socket: Websocket, subscription: Subscription, backfilled: set[str]) -> None:
    """Send the live events; the ones the backfill already sent are skipped."""
    receiving = asyncio.ensure_future(_until_closed(socket))
    try:
        while not receiving.done():
            getting = asyncio.ensure_future(subscription.next())
            done, _ = await asyncio.wait({getting, receiving}, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()
                break
            document = getting.result()
            if document is None:  # the subscriber fell too far behind
                await socket.close(1013, "Subscriber too slow: reconnect to resume")
                return
            if backfilled and document["id"] in backfilled:
                backfilled.discard(document["id"])
                continue
            await socket.send_json({"type": "event", "event": document})
    finally:
        receiving.cancel()


async def _until_closed(socket: Websocket) -> None:
    """Read (and ignore) what the client sends after its filter, until it disconnects."""
    try:
        while True:
            await socket.receive_text()
    except WebsocketClosed:
        return
