"""The layering rules of docs/architecture.md, enforced by reading every module's imports.

1. Nothing outside an ``api`` package imports from one (views, serializers and routes sit
   on top; selectors, services, filters, models, the admin and commands never need them),
   except the composition roots.
2. The shared base ``orion_project`` imports no app, except in its composition roots:
   apps register what the base runs for them (routes, services, resets).
3. Only ``runs_app.services.runs`` (and the engine itself) reach the orchestration engine:
   every state change goes through ``flow_run_set_state`` / ``task_run_set_state``.
4. Runs are deleted only by ``runs_app.services.purge`` (``flow_runs_delete`` /
   ``task_runs_delete``): no other module calls ``delete()`` on a run, or on a flow whose
   cascade would take runs, except the flow service that empties the flow first.
5. Between apps, each imports only the other's public layers: ``runs_app`` reads only the
   ``models`` and ``filters`` of ``flows_app`` (the resources a run points at), while
   ``flows_app``, which creates, polls and deletes runs, goes through ``runs_app``'s models,
   states, filters, services, selectors and proposal type (and its ``api`` from ``api``).
6. No app and no part of the shared base imports ``bench``: the benchmark uses the apps.
7. No module passes 500 lines outside ``bench/`` and migrations: a larger one becomes a
   package split by sub-domain.
8. A test module never imports another test module: shared helpers live in
   ``tests/helpers.py``, ``tests/factories.py`` or a helper module of their package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = "orion_project"
COMPOSITION_ROOTS = {"orion_project/urls.py", "orion_project/settings.py", "orion_project/api/urls.py"}
ENGINE = "runs_app.orchestration.engine"
ENGINE_DOORS = {"runs_app/services/runs.py"}


def _apps() -> list[str]:
    """Top-level packages with an ``apps.py`` besides the shared base."""
    return sorted(path.parent.name for path in ROOT.glob("*/apps.py") if path.parent.name != BASE)


def _modules() -> Iterator[tuple[str, Path]]:
    for package in [BASE, *_apps()]:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in relative:
                yield relative, path


def _imports(path: Path) -> Iterator[str]:
    """Every module name ``path`` imports, at module level or inside functions."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _is_api(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 1 and parts[1] == "api"


def test_only_api_packages_import_api_packages() -> None:
    offenders = sorted(
        f"{relative} imports {name}"
        for relative, path in _modules()
        if "/api/" not in relative and relative not in COMPOSITION_ROOTS
        for name in _imports(path)
        if _is_api(name)
    )
    assert offenders == []


def test_the_shared_base_imports_no_app() -> None:
    apps = tuple(_apps())
    offenders = sorted(
        f"{relative} imports {name}"
        for relative, path in _modules()
        if relative.startswith(f"{BASE}/") and relative not in COMPOSITION_ROOTS
        for name in _imports(path)
        if name.split(".")[0] in apps
    )
    assert offenders == []


def test_state_changes_have_one_door() -> None:
    offenders = sorted(
        relative
        for relative, path in _modules()
        if relative not in ENGINE_DOORS and not relative.startswith("runs_app/orchestration/")
        for name in _imports(path)
        if name == ENGINE or name.startswith(f"{ENGINE}.")
    )
    assert offenders == []


DELETE_DOOR = "runs_app/services/purge.py"
# Deletes of rows whose cascade reaches runs, allowed where the runs are deleted first.
CASCADING_DELETES = {"Flow": {"flows_app/services/flows.py"}}
RUN_MODELS = {"FlowRun", "TaskRun"}


def _deleted_models(path: Path) -> Iterator[str]:
    """The model names a ``Model....delete()`` (or ``_raw_delete``) chain in ``path`` starts from."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("delete", "_raw_delete")
        ):
            receiver: ast.expr = node.func.value
            while isinstance(receiver, ast.Call | ast.Attribute):
                receiver = receiver.func if isinstance(receiver, ast.Call) else receiver.value
            if isinstance(receiver, ast.Name):
                yield receiver.id


def test_runs_are_deleted_through_one_door() -> None:
    offenders = sorted(
        f"{relative} deletes {model}"
        for relative, path in _modules()
        if relative != DELETE_DOOR
        for model in _deleted_models(path)
        if model in RUN_MODELS or (model in CASCADING_DELETES and relative not in CASCADING_DELETES[model])
    )
    assert offenders == []


def test_the_rules_see_every_app() -> None:
    assert {"flows_app", "runs_app", "blocks_app"} <= set(_apps())


# What each app may import from another (prefixes of module names). Pairs not listed may
# not import each other at all.
CROSS_APP_IMPORTS = {
    ("runs_app", "flows_app"): ("flows_app.models", "flows_app.filters"),
    ("flows_app", "runs_app"): (
        "runs_app.models",
        "runs_app.states",
        "runs_app.filters",
        "runs_app.services",
        "runs_app.selectors",
        "runs_app.orchestration.context",
        "runs_app.api",  # from flows_app's api package only (rule 1)
    ),
}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


def test_runs_app_and_flows_app_import_each_other_only_through_public_layers() -> None:
    offenders = sorted(
        f"{relative} imports {name}"
        for relative, path in _modules()
        for (importer, imported), allowed in CROSS_APP_IMPORTS.items()
        if relative.startswith(f"{importer}/")
        for name in _imports(path)
        if name.split(".")[0] == imported and name != imported and not _within(name, allowed)
    )
    assert offenders == []


def test_no_app_imports_bench() -> None:
    offenders = sorted(
        f"{relative} imports {name}"
        for relative, path in _modules()
        for name in _imports(path)
        if name.split(".")[0] == "bench"
    )
    assert offenders == []


MAX_MODULE_LINES = 500


def _python_files() -> Iterator[tuple[str, Path]]:
    """Every module of the project outside ``bench/`` and migrations."""
    for package in [BASE, *_apps(), "tests", "scripts"]:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in relative:
                yield relative, path


def test_no_module_passes_500_lines() -> None:
    offenders = sorted(
        f"{relative}: {lines} lines"
        for relative, path in _python_files()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    )
    assert offenders == []


def test_test_modules_never_import_other_test_modules() -> None:
    offenders = sorted(
        f"{relative} imports {name}"
        for relative, path in _python_files()
        if relative.startswith("tests/")
        for name in _imports(path)
        if name.startswith("tests.") and any(part.startswith("test_") for part in name.split("."))
    )
    assert offenders == []
