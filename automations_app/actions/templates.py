"""The user's Jinja templates of actions (webhook payloads, notification subjects and
bodies, run-deployment parameters), rendered in a sandbox as the reference does.

The environment is built once: immutable sandbox (no method that changes an object),
undefined names render empty and chain, ``range`` is capped, plus the reference's
``ui_url`` and ``ui_resource_events_url`` filters. A template that fails while rendering
does not fail the action: it renders as the reference's "Failed to render template ..."
text followed by its source.

The context holds ``automation``, ``event``, ``labels``, ``firing``, ``firings``,
``events`` and, when a template names them, the objects the triggering event is about
(``flow_run``, ``flow``, ``deployment``, ``task_run``, ``work_queue``, ``work_pool``,
``concurrency_limit``) read from the database in the action's workspace, and
``variables`` (the workspace's variables by name). Values are plain data: the sandbox
never sees a model instance, so a template cannot reach another table.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from django.db import models
from jinja2 import ChainableUndefined, nodes, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from automations_app.actions.invocation import RESOURCE_ID, RESOURCE_NAME, RESOURCE_ROLE, Invocation, id_of_kind
from blocks_app.models import Variable
from flows_app.models import Deployment, Flow, WorkPool, WorkQueue
from runs_app.models import FlowRun, TaskRun
from runs_app.states import StateType

logger = logging.getLogger("orion.actions")

MAX_TEMPLATE_RANGE = 100

# Template name -> (resource kind, model) of the objects a template may name.
_OBJECT_KINDS: dict[str, tuple[str, type[models.Model]]] = {
    "deployment": ("prefect.deployment", Deployment),
    "flow": ("prefect.flow", Flow),
    "flow_run": ("prefect.flow-run", FlowRun),
    "task_run": ("prefect.task-run", TaskRun),
    "work_pool": ("prefect.work-pool", WorkPool),
    "work_queue": ("prefect.work-queue", WorkQueue),
}
# Kinds the reference resolves but this server has no such record for (always empty).
_UNRESOLVED = {"concurrency_limit"}
# What ``ui_url`` links to for each kind (the reference's list; objects of other kinds
# and the reference's run and deployment responses give none).
_UI_PATHS = {
    "prefect.deployment": "deployments/deployment/{id}",
    "prefect.flow": "flows/flow/{id}",
    "prefect.flow-run": "flow-runs/flow-run/{id}",
    "prefect.task-run": "flow-runs/task-run/{id}",
    "prefect.work-queue": "work-queues/work-queue/{id}",
    "prefect.work-pool": "work-pools/work-pool/{name}",
}
_UI_LINKED_OBJECTS = {"prefect.flow", "prefect.task-run", "prefect.work-queue", "prefect.work-pool"}
# The state labels of an event that describe a run's state when the event was emitted.
_STATE_LABELS = ("prefect.state-message", "prefect.state-name", "prefect.state-timestamp", "prefect.state-type")


def maybe_template(value: str) -> bool:
    """Whether ``value`` holds Jinja syntax at all (plain text is used as it is)."""
    return "{{" in value or "{%" in value


def _capped_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_TEMPLATE_RANGE:
        raise OverflowError(
            f"Range too big. The sandbox blocks ranges larger than MAX_TEMPLATE_RANGE={MAX_TEMPLATE_RANGE}."
        )
    return numbers


class Labels:
    """A resource's labels as templates see them: ``.id``, ``.name``, ``.role``,
    ``["label"]``, ``.items()``. Iterating it and printing it show the reference's
    model internals (``__root__``), as templates written for the reference expect."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        self._labels = dict(labels)

    def __getitem__(self, label: str) -> str:
        return self._labels[label]

    def __contains__(self, label: object) -> bool:
        return label in self._labels

    def __iter__(self) -> Iterator[tuple[str, dict[str, str]]]:
        return iter([("__root__", dict(self._labels))])

    def __str__(self) -> str:
        return f"__root__={self._labels!r}"

    def get(self, label: str, default: str | None = None) -> str | None:
        return self._labels.get(label, default)

    def keys(self) -> list[str]:
        return list(self._labels)

    def items(self) -> list[tuple[str, str]]:
        return list(self._labels.items())

    @property
    def id(self) -> str:
        return self._labels.get(RESOURCE_ID, "")

    @property
    def name(self) -> str | None:
        return self._labels.get(RESOURCE_NAME)

    @property
    def role(self) -> str | None:
        return self._labels.get(RESOURCE_ROLE)


class LabelTree:
    """The triggering labels by their dotted parts: ``labels.prefect.resource.id``
    prints that label's value (empty where no label ends), as the reference's do."""

    def __init__(self, labels: Mapping[str, str], value: str = "") -> None:
        self._labels = dict(labels)
        self._value = value
        nested: dict[str, dict[str, str]] = {}
        leaves: dict[str, str] = {}
        for key, label_value in labels.items():
            head, _, tail = key.partition(".")
            if tail:
                nested.setdefault(head, {})[tail] = label_value
            else:
                leaves[head] = label_value
        self._branches = {head: LabelTree(rest, leaves.pop(head, "")) for head, rest in nested.items()}
        self._branches.update({head: LabelTree({}, leaf) for head, leaf in leaves.items()})

    def __str__(self) -> str:
        return self._value

    def __len__(self) -> int:
        return len(self._labels)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._labels.items())

    def __getitem__(self, key: str) -> str:
        return self._labels[key]

    def __getattr__(self, name: str) -> LabelTree:
        if name.startswith("_") or name not in self._branches:
            raise AttributeError(name)
        return self._branches[name]


class Record(dict[str, Any]):
    """An object of the database (or the automation) as templates see it: its fields by
    name; ``kind`` (hidden from templates) says what ``ui_url`` links it to."""

    def __init__(self, fields: Mapping[str, Any], kind: str) -> None:
        super().__init__(fields)
        self._kind = kind


class Instant(dt.datetime):
    """A time that prints as ISO 8601 with a ``T``, as the reference's times do."""

    def __str__(self) -> str:
        return self.isoformat()


class EnumText(str):
    """A text value that prints as the reference's enum members do (``StateType.COMPLETED``)
    and compares equal to its plain value."""

    def __new__(cls, value: str, enum_name: str) -> EnumText:
        text = super().__new__(cls, value)
        text._enum_name = enum_name  # type: ignore[attr-defined]
        return text

    def __str__(self) -> str:
        return f"{self._enum_name}.{str.__str__(self)}"  # type: ignore[attr-defined]


@pass_context
def _ui_url(context: Any, obj: Any) -> str | None:
    """The dashboard link of an event, automation, resource or object, as the reference
    builds it (relative: the server knows no public dashboard address)."""
    path = None
    if isinstance(obj, Record) and obj._kind == "prefect.event":
        # The reference's path for events is a literal, placeholders and all.
        path = "/events/event/{obj.occurred.strftime('%Y-%m-%d')}/{obj.id}"
    elif isinstance(obj, Record) and obj._kind == "prefect.automation":
        path = f"/automations/automation/{obj.get('id')}"
    elif isinstance(obj, Labels):
        kind, _, object_id = obj.id.rpartition(".")
        if kind in _UI_PATHS:
            path = _UI_PATHS[kind].format(id=object_id, name=object_id)
    elif isinstance(obj, Record) and obj._kind in _UI_LINKED_OBJECTS:
        path = _UI_PATHS[obj._kind].format(id=obj.get("id"), name=obj.get("name"))
    return urllib.parse.urljoin("", path) if path else None


@pass_context
def _ui_resource_events_url(context: Any, obj: Any) -> str | None:
    """The dashboard's event feed for one resource, as the reference builds it."""
    resource_id = None
    if isinstance(obj, Record) and obj._kind == "prefect.automation":
        resource_id = f"prefect.automation.{obj.get('id')}"
    elif isinstance(obj, Labels):
        resource_id = obj.id
    elif isinstance(obj, Record) and obj._kind in _UI_LINKED_OBJECTS:
        resource_id = f"{obj._kind}.{obj.get('id')}"
    return f"events?resource={resource_id}" if resource_id else None


_environment = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
_environment.globals["range"] = _capped_range
_environment.filters.update(ui_url=_ui_url, ui_resource_events_url=_ui_resource_events_url)


def render_text(template: str, context: Mapping[str, Any]) -> str:
    """``template`` rendered with ``context``; on any error, the reference's failure text."""
    if not maybe_template(template):
        return template
    try:
        return _environment.from_string(template).render(context)
    except Exception as exc:
        logger.warning("A template of an action failed to render", exc_info=True)
        return f"Failed to render template due to the following error: {exc!r}\nTemplate source:\n{template}"


def render(templates: list[str], invocation: Invocation) -> list[str]:
    """Each of ``templates`` rendered with the invocation's context."""
    context = template_context(templates, invocation)
    return [render_text(template, context) for template in templates]


def parse(template: str) -> None:
    """Raise ``jinja2.TemplateSyntaxError`` if ``template`` does not parse."""
    _environment.parse(template)


def names_in(templates: list[str]) -> set[str]:
    """The top-level names the templates read (a template that does not parse reads none:
    it fails when rendered)."""
    found: set[str] = set()
    for template in templates:
        try:
            root = _environment.parse(template)
        except Exception:
            continue
        found.update(node.name for node in root.find_all(nodes.Name) if node.ctx == "load")
    return found


def template_context(templates: list[str], invocation: Invocation) -> dict[str, Any]:
    """What templates may read; database objects only those the templates name."""
    event = _event(invocation.triggering_event) if invocation.triggering_event else None
    context: dict[str, Any] = {
        "automation": Record(invocation.automation, "prefect.automation"),
        "event": event,
        "labels": LabelTree(invocation.triggering_labels),
        "firing": invocation.firing,
        "firings": invocation.all_firings(),
        "events": [_event(item) for item in invocation.all_events()],
    }
    if event is None:
        return context
    wanted = names_in(templates)
    for name in wanted & set(_OBJECT_KINDS):
        context[name] = _object(name, invocation)
    for name in wanted & _UNRESOLVED:
        context[name] = None
    if "variables" in wanted:
        variables = Variable.objects.filter(workspace_id=invocation.workspace_id).values_list("name", "value")
        context["variables"] = dict(variables)
    return context


def _event(document: Mapping[str, Any]) -> Record:
    fields = dict(document)
    fields["resource"] = Labels(document.get("resource") or {})
    fields["related"] = [Labels(item) for item in document.get("related") or []]
    for name in ("occurred", "received"):
        fields[name] = _instant_from_text(fields.get(name))
    return Record(fields, "prefect.event")


def _instant_from_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return Instant.fromisoformat(value)
    except ValueError:
        return value


def _object(name: str, invocation: Invocation) -> Record | None:
    """The object of kind ``name`` the triggering event is first about, from the
    workspace's records; ``None`` when there is none."""
    kind, model = _OBJECT_KINDS[name]
    resource = next((item for item in invocation.involved_resources() if _is_kind(item, kind)), None)
    if resource is None:
        return None
    object_id = id_of_kind(resource.get(RESOURCE_ID, ""), kind)
    if object_id is None:
        return None
    row = model._default_manager.filter(workspace_id=invocation.workspace_id, pk=object_id).first()  # type: ignore[misc]
    if row is None:
        return None
    fields = _fields(row)
    if isinstance(row, (FlowRun, TaskRun)):
        fields["state"] = _state(row, resource)
    return Record(fields, kind)


def _is_kind(resource: Mapping[str, str], kind: str) -> bool:
    return resource.get(RESOURCE_ID, "").rpartition(".")[0] == kind


def _fields(row: models.Model) -> dict[str, Any]:
    """The row's columns by their API names (a foreign key as ``<name>_id``)."""
    fields: dict[str, Any] = {}
    for model_field in row._meta.concrete_fields:
        if model_field.attname == "workspace_id":
            continue
        fields[model_field.attname] = _plain(getattr(row, model_field.attname))
    if "infra_overrides" in fields:
        fields["job_variables"] = fields["infra_overrides"]
    return fields


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return Instant.fromisoformat(value.isoformat())
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return copy.deepcopy(value) if isinstance(value, (dict, list)) else value


def _state(run: FlowRun | TaskRun, resource: Mapping[str, str]) -> Record | None:
    """The run's state as the event saw it when the event carries it (the run may have
    moved on since), else the run's current state."""
    if all(label in resource for label in _STATE_LABELS) and resource["prefect.state-type"] in StateType.values:
        timestamp = _instant_from_text(resource["prefect.state-timestamp"])
        fields: dict[str, Any] = {
            "type": EnumText(resource["prefect.state-type"], "StateType"),
            "name": resource["prefect.state-name"],
            "message": resource["prefect.state-message"],
            "timestamp": timestamp,
            "state_details": {},
        }
        return _StateRecord(fields, "prefect.state")
    state = run.state
    if state is None:
        return None
    fields = _fields(state)
    fields["type"] = EnumText(state.type, "StateType")
    return _StateRecord(fields, "prefect.state")


class _StateRecord(Record):
    """A state prints as the reference's do: ``Name('message')``."""

    def __str__(self) -> str:
        message = self.get("message")
        return f"{self.get('name')}({message!r})" if message else f"{self.get('name')}()"
