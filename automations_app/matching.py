"""Matching events against what an automation's trigger names: label values, resource
specifications (``match``, ``match_related``), event names and ``for_each`` labels.

The vocabulary is the reference's, so an automation written for it behaves the same here:

- a label pattern is a literal value, a prefix ending in ``*`` (``prefect.flow-run.*``),
  or either one negated with a leading ``!``; a missing label matches no pattern, not
  even a negated one;
- a resource specification maps labels to one pattern or a list of them; a resource
  matches when every label matches one of its patterns, and an empty specification
  matches every resource (and the absence of one);
- a trigger covers an event name when the name *starts with* one of its event patterns,
  where ``*`` stands for at least one character and ``!`` is no operator (so a negated
  ``expect`` never covers a name); whether the event is *expected* is then decided by
  the label rules above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

RESOURCE_ID = "prefect.resource.id"
RESOURCE_ROLE = "prefect.resource.role"

Labels = Mapping[str, Any]


def label_matches(pattern: str, value: Any) -> bool:
    """Whether the label ``value`` satisfies ``pattern`` (``*`` suffix, ``!`` prefix)."""
    if value is None:
        return False
    positive = not pattern.startswith("!")
    if not positive:
        pattern = pattern[1:]
    value = str(value)
    matched = value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern
    return matched if positive else not matched


def _patterns(expected: Any) -> list[str]:
    return [expected] if isinstance(expected, str) else [str(item) for item in expected or ()]


def resource_matches(specification: Mapping[str, Any], resource: Labels) -> bool:
    """Whether one resource (a label dictionary) satisfies every label of ``specification``."""
    return all(
        any(label_matches(pattern, resource.get(label)) for pattern in _patterns(expected))
        for label, expected in specification.items()
    )


def specification_includes(specification: Mapping[str, Any] | Sequence[Any], resources: Iterable[Labels]) -> bool:
    """Whether ``specification`` is empty or one of ``resources`` satisfies it. A list of
    specifications (as later releases allow for ``match_related``) needs each one included."""
    if not isinstance(specification, Mapping):
        candidates = list(resources)
        return all(specification_includes(item, candidates) for item in specification)
    if not specification:
        return True
    return any(resource_matches(specification, resource) for resource in resources)


def event_name_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """The expression a trigger's ``expect`` and ``after`` names make: anchored at the
    start only, each ``*`` standing for one or more characters."""
    alternatives = [re.escape(name).replace(r"\*", ".+") for name in sorted(names)]
    return re.compile("|".join(alternatives) if alternatives else ".+")


def name_matches_any(patterns: Iterable[str], name: str) -> bool:
    """Whether the event ``name`` satisfies one of ``patterns`` (label rules)."""
    return any(label_matches(pattern, name) for pattern in patterns)


def find_label(label: str, resource: Labels, related: Sequence[Labels]) -> Any:
    """The value a ``for_each`` label names in an event: ``related:<role>:<label>`` reads
    the first related resource with that role, anything else the primary resource."""
    head, _, related_label = label.rpartition(":")
    directive, _, role = head.partition(":")
    if directive == "related":
        for item in related:
            if item.get(RESOURCE_ROLE) == role:
                return item.get(related_label)
    return resource.get(label)
