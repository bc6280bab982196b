"""The layering rules of docs/architecture.md, enforced by reading every module's imports.

1. Nothing outside an ``api`` package imports from one (views, serializers and routes sit
   on top; selectors, services, filters, models, the admin and commands never need them),
   except the composition roots.
2. The shared base ``orion_project`` imports no app, except in its composition roots:
   apps register what the base runs for them (routes, services, resets).
3. Only ``runs_app.services.runs`` (and the engine itself) reach the orchestration engine:
   every state change goes through ``flow_run_set_state`` / ``task_run_set_state``.
4. Runs are deleted only by ``runs_app.services.purge`` (``services.flow_runs_delete`` /
   ``task_runs_delete``): no other module calls ``delete()`` on a run, or on a flow whose
   cascade would take runs, except the flow service that empties the flow first.
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
