"""Whether one event matches an ``EventFilter``, decided in memory.

The ``/events/out`` stream filters the events it reads off the log here, and the
automations' trigger evaluator may too. The answer is the one ``POST /events/filter``
gives for the same filter (``events_app.selectors.events_matching`` says it in SQL), so a
subscriber sees live exactly the events the HTTP filter would list:

* ``occurred``: ``since <= occurred <= until`` (a filter without ``until`` ends when it
  was read, so a stream that wants what happens next names a later ``until``, as the
  2.20 client does);
* ``event``: one of the prefixes, none of the excluded prefixes, one of the names, none
  of the excluded names;
* ``resource``: the primary resource's id, id prefix and labels;
* ``related``: a related resource (any role but the primary's empty one, unless roles are
  named) with one of the ids, roles or (id, role) pairs, and a related resource with the
  labels;
* ``any_resource``: the primary or a related resource with one of the ids and id
  prefixes, and one with the labels;
* ``id``: one of the event ids.

Labels follow the selectors' reading of the reference: for each label, the value is one
of the plain values, none of the ``!`` values, starts with every ``*`` prefix and with no
``!...*`` one; a resource without the label matches no condition on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from events_app.services.record import RESOURCE_ID_LABEL, RESOURCE_ROLE_LABEL

Labels = Mapping[str, Any]


class MatchableEvent(Protocol):
    """What matching reads of an event: an ``Event`` row has it."""

    uuid: uuid.UUID
    occurred: datetime
    event: str
    resource: Any
    related: Any


def event_matches(filters: Mapping[str, Any], event: MatchableEvent) -> bool:
    """Whether ``event`` is one ``filters`` (a validated ``EventFilter``) selects."""
    occurred = filters.get("occurred") or {}
    if occurred.get("since") is not None and event.occurred < occurred["since"]:
        return False
    if occurred.get("until") is not None and event.occurred > occurred["until"]:
        return False
    if (name := filters.get("event")) and not _name_matches(name, event.event):
        return False
    if (resource := filters.get("resource")) and not _resource_matches(resource, event.resource):
        return False
    related: Sequence[Labels] = event.related or ()
    if (wanted := filters.get("related")) and not _related_matches(wanted, related):
        return False
    if (wanted := filters.get("any_resource")) and not _any_resource_matches(wanted, event.resource, related):
        return False
    ids = (filters.get("id") or {}).get("id")
    return not ids or event.uuid in {uuid.UUID(str(value)) for value in ids}


def _name_matches(wanted: Mapping[str, Any], name: str) -> bool:
    if (prefixes := wanted.get("prefix")) and not any(name.startswith(prefix) for prefix in prefixes):
        return False
    if any(name.startswith(prefix) for prefix in wanted.get("exclude_prefix") or ()):
        return False
    if (names := wanted.get("name")) and name not in names:
        return False
    return name not in (wanted.get("exclude_name") or ())


def _id_matches(wanted: Mapping[str, Any], resource_id: str | None) -> bool:
    if resource_id is None:
        return not wanted.get("id") and not wanted.get("id_prefix")
    if (ids := wanted.get("id")) and resource_id not in ids:
        return False
    prefixes = wanted.get("id_prefix")
    return not prefixes or any(resource_id.startswith(prefix) for prefix in prefixes)


def _resource_matches(wanted: Mapping[str, Any], resource: Labels) -> bool:
    if not _id_matches(wanted, resource.get(RESOURCE_ID_LABEL)):
        return False
    labels = wanted.get("labels")
    return not labels or labels_match(labels, resource, role_label=False)


def _related_matches(wanted: Mapping[str, Any], related: Sequence[Labels]) -> bool:
    ids, roles, pairs = wanted.get("id"), wanted.get("role"), wanted.get("resources_in_roles")
    labels = wanted.get("labels")
    if ids or roles or pairs:

        def meets(item: Labels) -> bool:
            resource_id, role = item.get(RESOURCE_ID_LABEL), item.get(RESOURCE_ROLE_LABEL, "")
            if ids and resource_id not in ids:
                return False
            if roles and role not in roles:
                return False
            if pairs and (resource_id, role) not in {tuple(pair) for pair in pairs}:
                return False
            return bool(roles) or role != ""

        if not any(meets(item) for item in related):
            return False
    if labels:
        spec = dict(labels)
        if ids:
            spec[RESOURCE_ID_LABEL] = [*spec.get(RESOURCE_ID_LABEL, []), *ids]
        return any(labels_match(spec, item, role_label=True) for item in related)
    return True


def _any_resource_matches(wanted: Mapping[str, Any], resource: Labels, related: Sequence[Labels]) -> bool:
    everything = [resource, *related]
    if (wanted.get("id") or wanted.get("id_prefix")) and not any(
        _id_matches(wanted, item.get(RESOURCE_ID_LABEL)) for item in everything
    ):
        return False
    labels = wanted.get("labels")
    if not labels:
        return True
    return labels_match(labels, resource, role_label=False) or any(
        labels_match(labels, item, role_label=True) for item in related
    )


def labels_match(spec: Mapping[str, Sequence[str]], resource: Labels, *, role_label: bool) -> bool:
    """Whether ``resource`` (a label dictionary) matches every label of ``spec``;
    ``role_label``: its ``prefect.resource.role`` is a role (a related resource), matched
    by plain values only."""
    for label, values in spec.items():
        value = resource.get(label)
        if label == RESOURCE_ROLE_LABEL and role_label:
            if value not in values:
                return False
            continue
        if not _label_matches(values, value if isinstance(value, str) else None):
            return False
    return True


def _label_matches(values: Sequence[str], value: str | None) -> bool:
    if not values:
        return True
    if value is None:
        return False
    plain: list[str] = []
    for raw in values:
        negated = raw.startswith("!")
        text = raw[1:] if negated else raw
        if text.endswith("*"):
            if value.startswith(text.rstrip("*")) == negated:
                return False
        elif negated:
            if value == text:
                return False
        else:
            plain.append(text)
    return not plain or value in plain
