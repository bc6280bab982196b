"""The browser suite: the real server (granian, SQLite in a temporary data directory,
the installed Prefect UI) driven by headless Chromium from the distribution.

Run with ``make browser-test`` (which installs Chromium and the UI when missing). The
normal suite does not collect this folder (``tests/conftest.py``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.browser.seed_data import Api, Seeded, seed

ROOT = Path(__file__).resolve().parents[2]
ADMIN_USER, ADMIN_PASSWORD = "operator", "browser-tests-only-7f3a"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    explicit = os.environ.get("ORION_CHROMIUM")
    if explicit:
        return explicit
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def ui_dir() -> Path:
    return Path(os.environ.get("ORION_UI_DIR", ROOT / "data" / "ui"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage_command(env: dict[str, str], *args: str) -> None:
    """Run ``manage.py <args>`` for the server of ``env``."""
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, capture_output=True)


@contextmanager
def running_server(data: Path, *, extra_env: dict[str, str] | None = None, setup: str = "") -> Iterator[str]:
    """A migrated server with the admin user (``setup``: Python run by ``manage.py shell``
    before it starts), serving on a free loopback port; its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "ORION_DATA_DIR": str(data),
        "ORION_UI_DIR": str(ui_dir()),
        "ORION_PORT": str(port),
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
        "ORION_LATE_RUNS_INTERVAL_SECONDS": "1",
        **(extra_env or {}),
    }
    env.pop("DATABASE_URL", None)
    manage_command(env, "migrate", "--noinput")
    manage_command(env, "createsuperuser", "--noinput", "--username", ADMIN_USER, "--email", "ops@example.com")
    if setup:
        manage_command(env, "shell", "-c", setup)
    log = open(data / "server.log", "w")  # noqa: SIM115  (closed after the server stops)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "orion_start", "--workers", "1", "--threads", "8"],
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {(data / 'server.log').read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated server with an admin user, serving on a free loopback port."""
    with running_server(tmp_path_factory.mktemp("orion-data")) as base:
        yield base


@pytest.fixture(scope="session")
def api(server: str) -> Api:
    return Api(server)


@pytest.fixture(scope="session")
def data(api: Api) -> Seeded:
    return seed(api)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium on this machine (make browser-test installs the distribution's package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@dataclass
class Traffic:
    """What one page did on the network and the console."""

    server: str
    failed: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        host = urlparse(self.server).netloc

        def on_response(response: Any) -> None:
            if response.status >= 400:
                request = response.request
                body = (request.post_data or "")[:200]
                self.failed.append(f"{response.status} {request.method} {response.url} {body}".strip())

        def on_request(request: Any) -> None:
            parsed = urlparse(request.url)
            if parsed.scheme in ("http", "https", "ws", "wss") and parsed.netloc != host:
                self.external.append(request.url)

        page.on("response", on_response)
        page.on("request", on_request)
        page.on(
            "requestfailed",
            lambda request: self.failed.append(f"failed {request.method} {request.url}: {request.failure}"),
        )

        def on_console(message: Any) -> None:
            if message.type == "error":
                self.console_errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))

    def problems(self) -> list[str]:
        return (
            [f"HTTP {line}" for line in self.failed]
            + [f"external request {url}" for url in self.external]
            + [f"console {text}" for text in self.console_errors]
        )


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[tuple[Any, Traffic]]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=server)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    traffic = Traffic(server)
    traffic.watch(tab)
    yield tab, traffic
    context.close()


def screenshot_dir() -> Path | None:
    value = os.environ.get("ORION_SCREENSHOTS")
    return Path(value) if value else None
