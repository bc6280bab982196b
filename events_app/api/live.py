"""Live events for the ``/events/out`` sockets of this process.

While at least one socket subscribes, one task per process reads the log in commit order
(:func:`events_app.log.events_after`) every :data:`POLL_SECONDS`, or again at once after
a full batch, and hands each event to the subscribers of its workspace whose filter
matches it (:func:`events_app.matching.event_matches`). The log is the only thing the
processes share: an event recorded by another API process or replica, or by the services
process, is read here like one recorded by this process, and no broker is needed. With
no subscriber the task stops and nothing is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from django.db import close_old_connections

from events_app.log import READ_BATCH, LogPosition, LogSnapshot, current_position, events_after, log_snapshot
from events_app.matching import event_matches
from events_app.models import Event
from events_app.schema import event_json
from orion_project.serving import Websocket

logger = logging.getLogger("orion.events")

# How often the log is read while someone listens: the most a live event waits for its
# read (besides the commit horizon, see events_app.log).
POLL_SECONDS = 0.2
# Events waiting for one subscriber; past this the subscriber is told to reconnect.
BACKLOG = 10_000


class Subscription:
    """One socket's filter and the events waiting to be sent to it (``None`` last, when
    it fell :data:`BACKLOG` events behind).

    The process's reader may be a pass behind, so it can offer events committed before
    the socket subscribed: the log's snapshot taken on subscribing tells them apart, and
    until it is known the offers wait in ``early``."""

    def __init__(self, workspace_id: int, filters: dict[str, Any]) -> None:
        self.workspace_id, self.filters = workspace_id, filters
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.overflowed = False
        self.snapshot: LogSnapshot | None = None
        self.early: list[tuple[Event, dict[str, Any]]] = []

    def start(self, snapshot: LogSnapshot) -> None:
        """Deliver from ``snapshot`` on: what was committed by then is not live."""
        self.snapshot = snapshot
        early, self.early = self.early, []
        for row, document in early:
            self.offer(row, document)

    def offer(self, row: Event, document: dict[str, Any]) -> None:
        if self.overflowed or row.workspace_id != self.workspace_id or not event_matches(self.filters, row):
            return
        if self.snapshot is None:
            self.early.append((row, document))
            return
        if self.snapshot.holds(row):
            return
        if self.queue.qsize() >= BACKLOG:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(document)

    async def next(self) -> dict[str, Any] | None:
        return await self.queue.get()


def _read(position: LogPosition | None) -> tuple[list[Event], LogPosition]:
    close_old_connections()
    if position is None:
        return [], current_position()
    return events_after(position)


def _snapshot() -> LogSnapshot:
    close_old_connections()
    return log_snapshot()


class LiveEvents:
    """The subscribers of this process and the task that feeds them."""

    def __init__(self) -> None:
        self.subscribers: set[Subscription] = set()
        self.position: LogPosition | None = None
        self.task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def subscription(
        self, socket: Websocket, *, workspace_id: int, filters: dict[str, Any]
    ) -> AsyncIterator[Subscription]:
        """Subscribe ``socket`` from now on (every event committed after this returns is
        delivered, none committed before) for as long as the block runs."""
        subscription = Subscription(workspace_id, filters)
        if self.task is None or self.task.done():
            # Where the reader starts; a running reader is at most a pass behind now.
            _, self.position = await socket.run_sync(_read, None)
            self.subscribers.add(subscription)
            self.task = asyncio.ensure_future(self._run(socket))
        else:
            self.subscribers.add(subscription)
        # Taken once the reader offers to the subscription, so nothing falls in between.
        subscription.start(await socket.run_sync(_snapshot))
        try:
            yield subscription
        finally:
            self.subscribers.discard(subscription)

    async def _run(self, socket: Websocket) -> None:
        while self.subscribers and self.position is not None:
            try:
                rows, self.position = await socket.run_sync(_read, self.position)
            except Exception:
                logger.exception("Could not read the event log for the /events/out sockets")
                await asyncio.sleep(1)
                continue
            for row in rows:
                document: dict[str, Any] | None = None
                for subscriber in list(self.subscribers):
                    if document is None:
                        document = event_json(row)
                    subscriber.offer(row, document)
            if len(rows) < READ_BATCH:
                await asyncio.sleep(POLL_SECONDS)
        self.task = None


# One per process: the sockets of this process share one reader.
LIVE = LiveEvents()
