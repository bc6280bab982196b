"""Free-form JSON values: how deep they may nest, and what to do with one that is deeper.

Free-form fields (flow run ``parameters``, ``context``, ``empirical_policy``,
``job_variables``, state ``data``, block document ``data``, artifact ``data``, variable
values, work pool templates, infra overrides ...) hold whatever a client sends. Every
value the server accepts must be one it can answer with again: orjson, which renders
every answer, stops at 255 levels of nesting although it parses 1,024, and an answer
wraps a stored value in a few levels of its own (the run, the list of runs, the 422
that echoes a body). So a request body may nest at most :data:`MAX_JSON_DEPTH`
levels, well under the renderer's limit with room for any envelope; the size of a
value is bounded by the request body limit (``ORION_MAX_REQUEST_BODY_BYTES``).

Values stored before the bound existed may be deeper. The renderer then shows them cut
at :data:`RENDER_MAX_DEPTH` levels (see :func:`json_cut`) rather than fail the whole
answer, and ``manage.py orion_check_json`` finds and repairs such rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

# Levels of arrays and objects a request body may nest, counted from the body itself.
MAX_JSON_DEPTH = 128
# Where an answer holding a value stored before the bound is cut: above any envelope a
# value of MAX_JSON_DEPTH levels sits in, below the 255 levels orjson writes.
RENDER_MAX_DEPTH = 192
# What stands in place of an array or object cut off for nesting too deep.
TOO_DEEP_MARKER = "<nested too deep to show>"

Path = tuple[str | int, ...]


def _children(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict):
        yield from value.items()
    else:
        yield from enumerate(value)


def json_too_deep_at(value: Any, max_depth: int = MAX_JSON_DEPTH) -> Path | None:
    """The path of the first array or object nested deeper than ``max_depth`` levels in
    ``value`` (the value itself is level 1), or ``None``.

    Iterative, so a value nested as deep as a parser allows cannot exhaust the stack."""
    if not isinstance(value, (dict, list)):
        return None
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) >= max_depth:
            return path
        containers = [(key, child) for key, child in _children(item) if isinstance(child, (dict, list))]
        stack.extend((child, (*path, key)) for key, child in reversed(containers))
    return None


# The most levels orjson writes (it refuses 255).
ORJSON_MAX_DEPTH = 254


def json_within_depth(value: Any, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value``, as orjson parses it (plain dicts, lists and scalars it can
    write back), nests at most ``max_depth`` levels.

    orjson does the walking: it refuses to write more than :data:`ORJSON_MAX_DEPTH`
    levels, so ``value`` is written inside enough lists to leave it exactly
    ``max_depth``. That is several times faster than walking in Python, which only
    :func:`json_too_deep_at` does, to say where a refused value is too deep."""
    wrapped = value
    for _ in range(ORJSON_MAX_DEPTH - max_depth):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except orjson.JSONEncodeError:
        return False
    return True


def json_depth(value: Any) -> int:
    """How many levels of arrays and objects ``value`` nests (a scalar nests 0)."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        for _key, child in _children(item):
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return deepest


def json_nul_paths(value: Any) -> list[Path]:
    """Where a NUL character sits in ``value``: in a string, or in an object's key (the
    path then ends with that key). Iterative, like :func:`json_too_deep_at`."""
    found: list[Path] = []
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                found.append(path)
        elif isinstance(item, (dict, list)):
            children = list(_children(item))
            for key, child in reversed(children):
                stack.append((child, (*path, key)))
                if isinstance(key, str) and "\x00" in key:
                    stack.append((key, (*path, key)))
    return found


def json_cut(value: Any, max_depth: int, leaf: Callable[[Any], Any] | None = None) -> Any:
    """A copy of ``value`` in which every array or object nested deeper than
    ``max_depth`` levels is replaced by :data:`TOO_DEEP_MARKER`, and every other value
    passed through ``leaf`` (when given). Tuples come back as lists."""

    def walk(item: Any, depth: int) -> Any:
        if isinstance(item, dict):
            if depth >= max_depth:
                return TOO_DEEP_MARKER
            return {key: walk(child, depth + 1) for key, child in item.items()}
        if isinstance(item, (list, tuple)):
            if depth >= max_depth:
                return TOO_DEEP_MARKER
            return [walk(child, depth + 1) for child in item]
        return leaf(item) if leaf is not None else item

    # The recursion is bounded by max_depth, which callers keep far below the stack's.
    return walk(value, 0)
