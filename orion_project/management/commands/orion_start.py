"""``manage.py orion_start``: the API under granian plus the background services.

Like ``prefect orion start``: one command starts everything a single-machine server
needs. Both run as child processes; when either stops, or on SIGTERM/SIGINT, the other
is stopped too and the command exits with the first one's status.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

# granian's logging, less its warning about threads per worker (see the module beside it).
GRANIAN_LOG_CONFIG = Path(__file__).resolve().parents[2] / "granian_logging.json"


class Command(BaseCommand):
    help = "Serve the API with granian and run the background services."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.ORION_HOST)
        parser.add_argument("--port", type=int, default=settings.ORION_PORT)
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.ORION_WEB_WORKERS or usable_cores(),
            help="API worker processes (default ORION_WEB_WORKERS, else one per usable core)",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.ORION_WEB_THREADS,
            help="threads per worker (default ORION_WEB_THREADS)",
        )
        parser.add_argument(
            "--access-log",
            action=argparse.BooleanOptionalAction,
            default=settings.ORION_ACCESS_LOG,
            help="one line per request on stdout (default ORION_ACCESS_LOG, off)",
        )
        parser.add_argument("--no-services", action="store_true", help="Serve the API only.")

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        workers: int,
        threads: int,
        access_log: bool,
        no_services: bool,
        **options: Any,
    ) -> None:
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        in_use = _port_in_use(host, port)
        if in_use:
            # granian binds with SO_REUSEPORT, so a second server on a taken port would
            # start and silently share the connections with the first one.
            self.stderr.write(f"{host}:{port} is in use ({in_use}); is another server running?")
            sys.exit(1)
        api = api_server_command(python, host=host, port=port, workers=workers, access_log=access_log)
        children: list[subprocess.Popen[bytes]] = []
        names: dict[int, str] = {}
        requested: list[int] = []  # the signal that asked us to stop, if one did

        def on_signal(signum: int, frame: Any) -> None:
            requested.append(signum)
            _terminate(children)

        # Handlers first: a signal arriving while the children start must not orphan them.
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        commands = {"granian": api}
        if not no_services:
            commands["orion_services"] = [python, manage, "orion_services"]
        # Request metrics are per process: with several API workers, prometheus-client
        # shares them through files in this directory (made here unless one is given).
        env = dict(os.environ)
        # The worker sizes its thread pool from this (orion_project.granian_worker).
        env["ORION_WEB_THREADS"] = str(threads)
        metrics_dir = None
        if workers > 1 and not env.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = tempfile.mkdtemp(prefix="orion-metrics-")
            env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        for name, command in commands.items():
            if not requested:
                child = subprocess.Popen(command, env=env)
                children.append(child)
                names[child.pid] = name
        self.stdout.write(f"Orion on Django at http://{host}:{port} (API /api, admin /admin, docs /docs)")
        status = 0
        while not requested:
            exited = [child for child in children if child.poll() is not None]
            if exited:
                # A child stopped on its own: the server is broken, so stop the other one
                # and exit non-zero for a supervisor to see (and restart).
                status = _exit_status(exited[0].returncode) or 1
                self.stderr.write(f"{names[exited[0].pid]} exited ({exited[0].returncode}); stopping the server")
                break
            time.sleep(0.5)
        _terminate(children)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        # Stopped by SIGTERM/SIGINT: a clean shutdown, whatever the children answered (one
        # still starting up dies of the signal itself).
        sys.exit(0 if requested else status)


def api_server_command(python: str, *, host: str, port: int, workers: int, access_log: bool) -> list[str]:
    """granian serving :data:`orion_project.granian_worker.server` (the HTTP API and its
    websockets on one port) through its ASGI interface, without lifespan events (why these
    settings: docs/performance.md, "Serving"). The threads the WSGI application runs on are
    the server's own (``ORION_WEB_THREADS``), not granian's blocking threads.

    Keep-alive: granian closes a connection that sends no request headers within its
    header-read timeout, which is what ends an idle kept-alive connection; 0 turns
    keep-alive off.
    """
    keepalive = settings.ORION_WEB_KEEPALIVE_SECONDS
    command = [
        python, "-m", "granian", "--interface", "asginl", "orion_project.granian_worker:server",
        "--host", host, "--port", str(port), "--workers", str(workers), "--http", "1",
        "--respawn-failed-workers", "--workers-kill-timeout", "15",
        "--log-level", "warning", "--log-config", str(GRANIAN_LOG_CONFIG),
        # The main process imports the log filter from here as the workers the application.
        "--working-dir", str(settings.BASE_DIR),
    ]  # fmt: skip
    if keepalive:
        command += ["--http1-header-read-timeout", str(min(keepalive, 60) * 1000)]
    else:
        command += ["--no-http1-keep-alive"]
    if access_log:
        command += ["--access-log"]
    return command


def _port_in_use(host: str, port: int) -> str:
    """Why ``host:port`` cannot be bound, or ``""`` when it is free.

    The probe binds without ``SO_REUSEPORT``, so it fails on a port another server listens
    on, whatever that server's options; ``SO_REUSEADDR`` lets it ignore connections of a
    stopped server still in ``TIME_WAIT``.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        return str(error)
    family, kind, protocol, _, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            return error.strerror or str(error)
    return ""


def usable_cores() -> int:
    """The cores this process may run on (``taskset`` narrows them), at least one."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return max(os.cpu_count() or 1, 1)


def _terminate(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)


def _exit_status(returncode: int) -> int:
    """A child's return code as a shell exit status (killed by signal N → 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode
