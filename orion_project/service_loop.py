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

from django.db import close_old_connections

from orion_project.registry import Service

logger = logging.getLogger("orion.services")


def run_once(service: Service) -> int:
    """One pass of ``service``; an error is logged and the loop goes on."""
    close_old_connections()
    try:
        return service.run()
    except Exception:
        logger.exception("Service %s failed; it runs again at its next interval", service.name)
        return 0
    finally:
        close_old_connections()


def run_forever(services: list[Service], stop: threading.Event) -> None:
    """Run each service whenever it is due until ``stop`` is set."""
    due = dict.fromkeys((service.name for service in services), 0.0)
    while not stop.is_set():
        now = time.monotonic()
        for service in services:
            if due[service.name] <= now:
                run_once(service)
                due[service.name] = time.monotonic() + service.interval_seconds
        stop.wait(max(min(due.values()) - time.monotonic(), 0.1))


def stop_on_signals(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM and SIGINT for a clean shutdown."""

    def handler(signum: int, frame: Any) -> None:
        logger.info("Received signal %s; stopping services", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
