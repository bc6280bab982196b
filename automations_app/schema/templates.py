"""The checks the reference makes of the Jinja templates users write into actions: the
template parses in the sandbox, and its loops stay within the sandbox's limits. Nothing
is rendered here; the action runner renders."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_LOOPS = 10
MAX_LOOP_DEPTH = 2

_ENVIRONMENT = ImmutableSandboxedEnvironment()


class TemplateProblem(Exception):
    """A template that does not parse, or whose loops are over the limits."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def check_template(template: str) -> None:
    """Raise :class:`TemplateProblem` if the template would not be accepted."""
    try:
        root = _ENVIRONMENT.parse(template)
    except TemplateSyntaxError as problem:
        raise TemplateProblem(problem.message or "", problem.lineno) from None
    loops = list(root.find_all(nodes.For))
    if len(loops) > MAX_LOOPS:
        raise TemplateProblem(
            f"Contains {len(loops)} for loops. Templates can contain no more than {MAX_LOOPS} for loops.", 0
        )
    depth = max((_loop_depth(loop) for loop in loops), default=0)
    if depth > MAX_LOOP_DEPTH:
        raise TemplateProblem(
            f"Contains nested for loops at a depth of {depth}. "
            f"Templates can nest for loops no more than {MAX_LOOP_DEPTH} loops deep.",
            0,
        )


def _loop_depth(node: nodes.Node, depth: int = 0) -> int:
    if isinstance(node, nodes.For):
        depth += 1
    return max((_loop_depth(child, depth) for child in node.iter_child_nodes()), default=depth)


def template_field(name: str) -> Any:
    """A field check: the value is a template that would be accepted."""

    def check(value: str) -> str:
        try:
            check_template(value)
        except TemplateProblem as problem:
            raise ValueError(f"{name!r} is not a valid template: {problem.message}") from None
        return value

    return check


def looks_like_template(text: str) -> bool:
    return "{{" in text or "{%" in text


# Parameters of a run-deployment action may hold placeholders the runner fills in:
# ``{"__prefect_kind": "jinja", "template": ...}``, ``"json"`` (a JSON text), ``"none"``
# (a value passed through) and ``"workspace_variable"``; a plain string that looks like a
# template is a jinja placeholder too.
KIND_KEY = "__prefect_kind"


def parameter_problems(value: Any, path: str = "") -> dict[str, str]:
    """Where the placeholders of a parameters object are broken, and why, keyed by their
    dotted path (``a.b``, ``a[0]``)."""
    if isinstance(value, dict) and KIND_KEY in value:
        problem = _placeholder_problem(value)
        found = {path.rstrip("."): problem} if problem else {}
        inner = value.get("value") if value.get(KIND_KEY) == "none" else None
        return {**found, **(parameter_problems(inner, path) if isinstance(inner, dict) else {})}
    found = {}
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and looks_like_template(item):
                item = {KIND_KEY: "jinja", "template": item}
            if isinstance(item, dict):
                found.update(parameter_problems(item, f"{path}{key}."))
            elif isinstance(item, list):
                for index, element in enumerate(item):
                    if isinstance(element, str) and looks_like_template(element):
                        element = {KIND_KEY: "jinja", "template": element}
                    if isinstance(element, dict):
                        found.update(parameter_problems(element, f"{path}{key}[{index}]."))
    return found


def _placeholder_problem(placeholder: dict[str, Any]) -> str | None:
    kind = placeholder.get(KIND_KEY)
    if kind == "jinja":
        if "template" not in placeholder:
            return "Missing 'template' key in __prefect object"
        try:
            check_template(placeholder["template"])
        except TemplateProblem as problem:
            return f"Invalid jinja: {problem.message}"
        except (TypeError, AttributeError):
            return "Invalid jinja"
    elif kind == "json" and "value" in placeholder and not isinstance(placeholder["value"], dict):
        try:
            json.loads(placeholder["value"])
        except (json.JSONDecodeError, TypeError) as problem:
            return f"Invalid JSON: {problem}"
    elif kind == "none" and "value" not in placeholder:
        return "Missing 'value' key in __prefect object"
    return None


def parameters_check(value: dict[str, Any]) -> dict[str, Any]:
    """The field check of ``parameters``: every placeholder is well formed."""
    if not value:
        return value
    problems = parameter_problems(value)
    if problems:
        lines = "\n  ".join(f"{path + ':' if path else ''} {message}" for path, message in problems.items())
        raise ValueError("Invalid parameters: \n" + lines)
    return value
