"""``manage.py orion_start`` serving options (docs/performance.md, "Serving")."""

from __future__ import annotations

import pytest

from orion_project.management.commands.orion_start import Command, usable_cores


def parse(*argv: str) -> dict[str, object]:
    return vars(Command().create_parser("manage.py", "orion_start").parse_args(list(argv)))


def test_defaults_one_worker_per_core_and_no_access_log() -> None:
    options = parse()
    assert options["workers"] == usable_cores() >= 1
    assert options["threads"] == 8
    assert options["access_log"] is False


def test_access_log_and_sizes_from_the_environment(monkeypatch: pytest.MonkeyPatch, settings: object) -> None:
    settings.ORION_ACCESS_LOG = True  # type: ignore[attr-defined]
    settings.ORION_WEB_WORKERS = 3  # type: ignore[attr-defined]
    settings.ORION_WEB_THREADS = 2  # type: ignore[attr-defined]
    options = parse()
    assert (options["access_log"], options["workers"], options["threads"]) == (True, 3, 2)
    assert parse("--no-access-log", "--workers", "1")["access_log"] is False
