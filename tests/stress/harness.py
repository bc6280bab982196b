"""A throwaway Orion server for the fuzz, soak and crash runs: its own database, loopback only.

``Server`` migrates a fresh database (a SQLite file in a temporary directory, or the given
PostgreSQL URL, whose tables are emptied first), then starts ``manage.py orion_start`` or
its two halves separately, in their own process groups so a run can SIGKILL either.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MANAGE = str(ROOT / "manage.py")


def rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (0 if gone)."""
    total = 0
    for candidate in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return found
    for child in children:
        found.append(int(child))
        found.extend(_descendants(int(child)))
    return found


@dataclass
class Server:
    """One server under test; ``database_url`` ``None`` means a fresh SQLite file."""

    port: int
    database_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="orion-stress-")))
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env.update({"ORION_DATA_DIR": str(self.workdir / "data"), "ORION_HOST": "127.0.0.1"})
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, MANAGE, *args], env=self.env(), cwd=ROOT, capture_output=True, text=True, check=True
        )
        return done.stdout

    def prepare(self) -> None:
        """A migrated, empty database."""
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput", "-v", "0")
        if self.database_url:
            self.manage("flush", "--noinput")
            self.manage("migrate", "--noinput", "-v", "0")  # re-seeds what migrations seed

    def start(self, name: str = "server", *, services: bool = True, api: bool = True) -> None:
        """Start ``orion_start`` (``name="server"``), or only the API or only the services."""
        if api and services:
            command = [sys.executable, MANAGE, "orion_start", "--port", str(self.port), "--workers", "2"]
        elif api:
            command = [
                sys.executable,
                MANAGE,
                "orion_start",
                "--port",
                str(self.port),
                "--workers",
                "2",
                "--no-services",
            ]
        else:
            command = [sys.executable, MANAGE, "orion_services"]
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            command, env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if api:
            self.wait_healthy()

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/api/health", timeout=2) as response:
                    if json.loads(response.read()) is True:
                        return
            except (OSError, ValueError):
                time.sleep(0.3)
        raise RuntimeError(f"server on port {self.port} did not become healthy; see {self.workdir}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group of ``name`` and reap it."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM)

    def log_text(self) -> str:
        return "".join(path.read_text(errors="replace") for path in sorted(self.workdir.glob("*.log")))

    def pid(self, name: str = "server") -> int:
        return self.processes[name].pid


def request(base_url: str, method: str, path: str, body: Any = None, timeout: float = 30) -> tuple[int, Any]:
    """One JSON request; answers (status, parsed body). Connection failures raise OSError."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{base_url}/api{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw) if raw else None
        except ValueError:
            return error.code, raw.decode(errors="replace")


def add_database_arguments(parser: Any, port: int) -> None:
    """``--db``, ``--database-url`` and ``--port``, shared by the fuzz, soak and crash runs."""
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (its tables are emptied)")
    parser.add_argument("--port", type=int, default=port)


def database_targets(parser: Any, options: Any) -> list[tuple[str, str | None]]:
    """(label, database URL or ``None`` for SQLite) for each database asked for."""
    targets: list[tuple[str, str | None]] = []
    if options.db in ("sqlite", "both"):
        targets.append(("SQLite", None))
    if options.db in ("postgres", "both"):
        if not options.database_url:
            parser.error("--database-url is needed for PostgreSQL")
        targets.append(("PostgreSQL", options.database_url))
    return targets
