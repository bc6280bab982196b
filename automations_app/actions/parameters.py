"""The parameters of a run-deployment action, hydrated as the reference does.

A value may be a plain string holding Jinja (an older form, upgraded to a ``jinja``
placeholder first) or a placeholder object ``{"__prefect_kind": ...}``: ``jinja``
(rendered with the action's template context), ``json`` (parsed), ``workspace_variable``
(the variable's value), ``none`` (its ``value``, hydrated). A placeholder without its key
is dropped; an unknown kind stands for its ``value``. A placeholder that cannot be
hydrated (a missing variable, invalid JSON, a template that does not parse) fails the
action with the reference's reason.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from jinja2 import TemplateSyntaxError

from automations_app.actions import templates
from automations_app.actions.invocation import Invocation
from blocks_app.models import Variable

KIND = "__prefect_kind"


class HydrationError(Exception):
    """A placeholder that cannot be hydrated; its ``repr`` is the reference's (no args)."""

    def __init__(self) -> None:
        super().__init__()


class InvalidJSON(HydrationError):
    pass


class InvalidJinja(HydrationError):
    pass


class WorkspaceVariableNotFound(HydrationError):
    pass


class KeyNotFound(HydrationError):
    pass


class _Dropped:
    """A placeholder that removes itself from its parent."""


_DROPPED = _Dropped()


def render_parameters(parameters: dict[str, Any] | None, invocation: Invocation) -> dict[str, Any]:
    """The parameters with every placeholder replaced; raises :class:`HydrationError`."""
    values = copy.deepcopy(parameters) or {}
    _upgrade_plain_templates(values)
    found_templates: list[str] = []
    variable_names: list[str] = []
    _collect(values, found_templates, variable_names)
    context = templates.template_context(found_templates, invocation)
    variables: dict[str, str] = {}
    if variable_names:
        rows = Variable.objects.filter(workspace_id=invocation.workspace_id, name__in=variable_names)
        variables = dict(rows.values_list("name", "value"))
    hydrated = _hydrate(values, lambda template: templates.render_text(template, context), variables)
    return {} if hydrated is _DROPPED else hydrated  # type: ignore[no-any-return]


def _upgrade_plain_templates(values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict):
            if KIND not in value:
                _upgrade_plain_templates(value)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    _upgrade_plain_templates(item)
                elif isinstance(item, str) and templates.maybe_template(item):
                    value[index] = {KIND: "jinja", "template": item}
        elif isinstance(value, str) and templates.maybe_template(value):
            values[key] = {KIND: "jinja", "template": value}


def _collect(value: Any, found_templates: list[str], variable_names: list[str]) -> None:
    """The templates and variable names the placeholders use (to read only those)."""
    if isinstance(value, dict):
        if value.get(KIND) == "jinja" and isinstance(value.get("template"), str):
            found_templates.append(value["template"])
        elif value.get(KIND) == "workspace_variable" and isinstance(value.get("variable_name"), str):
            variable_names.append(value["variable_name"])
        for item in value.values():
            _collect(item, found_templates, variable_names)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found_templates, variable_names)


def _hydrate(value: Any, render: Callable[[str], str], variables: dict[str, str]) -> Any:
    if isinstance(value, dict) and KIND in value:
        return _placeholder(value, render, variables)
    if isinstance(value, dict):
        pairs = ((key, _hydrate(item, render, variables)) for key, item in value.items())
        return {key: item for key, item in pairs if item is not _DROPPED}
    if isinstance(value, list):
        items = (_hydrate(item, render, variables) for item in value)
        return [item for item in items if item is not _DROPPED]
    return value


def _placeholder(value: dict[str, Any], render: Callable[[str], str], variables: dict[str, str]) -> Any:
    kind = value.get(KIND)
    if kind == "none":
        if "value" not in value:
            raise KeyNotFound()
        return _hydrate(value["value"], render, variables)
    if kind == "json":
        if "value" not in value:
            return _DROPPED
        text = _hydrate(value["value"], render, variables) if isinstance(value["value"], dict) else value["value"]
        try:
            return json.loads(text)
        except (ValueError, TypeError):
            raise InvalidJSON() from None
    if kind == "jinja":
        if "template" not in value:
            raise KeyNotFound()
        template = value["template"]
        if isinstance(template, dict):
            template = _hydrate(template, render, variables)
        try:
            templates.parse(template)
        except TemplateSyntaxError:
            raise InvalidJinja() from None
        return render(template)
    if kind == "workspace_variable":
        if "variable_name" not in value:
            return _DROPPED
        name = value["variable_name"]
        if name not in variables:
            raise WorkspaceVariableNotFound()
        return variables[name]
    return value.get("value")
