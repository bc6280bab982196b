"""The loop that runs the background services at their intervals.

The services themselves belong to the apps, which register them
(:func:`orion_project.registry.register_services`). Every service is a function doing one
short pass and returning how much it did; the loop calls each when it is due. Nothing is kept in process memory between passes, so any
number of loops can run against one database (see each service for how it shares work).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from orion_project.db_availability import database_unavailable
from orion_project.models import ServiceHeartbeat
from orion_project.registry import Service

logger = logging.getLogger("orion.services")


def run_once(service: Service) -> int:
    """One pass of ``service``; an error is logged and the loop goes on.

    Every pass is recorded in ``ServiceHeartbeat`` (its end time and duration) so that
    ``/api/metrics``, served by other processes, can tell whether the services run.
    """
    started = time.monotonic()
    try:
        close_old_connections()
        done = service.run()
    except Exception as exc:
        if database_unavailable(exc):
            # One line per pass, not a traceback: an outage is expected to end by itself.
            logger.warning("Service %s skipped: the database is unavailable (%s)", service.name, exc)
        else:
            logger.exception("Service %s failed; it runs again at its next interval", service.name)
        _record_pass(service.name, succeeded=False, seconds=time.monotonic() - started)
        return 0
    else:
        _record_pass(service.name, succeeded=True, seconds=time.monotonic() - started)
        return done
    finally:
        _close_connections()


def _close_connections() -> None:
    """Hand back this pass's connections; a broken one may fail to close during an outage."""
    try:
        close_old_connections()
    except DatabaseError as exc:
        logger.warning("Could not close a database connection: %s", exc)


def _record_pass(name: str, *, succeeded: bool, seconds: float) -> None:
    """Upsert the service's heartbeat row (one statement); a failure here only logs."""
    now = timezone.now()
    beat = ServiceHeartbeat(name=name, loop_seconds=seconds)
    fields = ["loop_seconds"]
    if succeeded:
        beat.last_success = now
        fields.append("last_success")
    else:
        beat.last_failure = now
        fields.append("last_failure")
    try:
        ServiceHeartbeat.objects.bulk_create(
            [beat], update_conflicts=True, unique_fields=["name"], update_fields=fields
        )
    except DatabaseError as exc:
        if database_unavailable(exc):
            logger.warning("Could not record the pass of service %s: the database is unavailable", name)
        else:
            logger.exception("Could not record the pass of service %s", name)


def run_forever(services: list[Service], stop: threading.Event) -> None:
    """Run each service whenever it is due, or as soon as a service it is woken by did
    some work (``Service.wakes``), until ``stop`` is set."""
    due = dict.fromkeys((service.name for service in services), 0.0)
    while not stop.is_set():
        for service in services:
            if due[service.name] <= time.monotonic():
                done = run_once(service)
                due[service.name] = time.monotonic() + service.interval_seconds
                for woken in service.wakes if done else ():
                    if woken in due:
                        due[woken] = 0.0
        stop.wait(max(min(due.values()) - time.monotonic(), 0.1))


def stop_on_signals(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM and SIGINT for a clean shutdown."""

    def handler(signum: int, frame: Any) -> None:
        logger.info("Received signal %s; stopping services", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
