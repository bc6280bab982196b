"""Schemathesis hooks of the fuzz run (loaded through ``SCHEMATHESIS_HOOKS``).

* Every generated body may have its free-form JSON, datetime, number and ``like_`` values
  swapped for hostile ones (``tests.stress.hostile``); ``GET /flows/`` may get an extreme
  ``offset``/``limit``. Schemathesis draws from the schema, so these shapes would
  otherwise be all but absent.
* ``created_is_readable``: a create that succeeded must be readable by ``GET .../{id}``
  and listable by ``POST .../filter``, without a 5xx, and give back the free-form values
  it was sent, equal (an integer stays that integer). The read-back is what turns a
  "poison record" (stored, then breaking every read) into a finding.

``fuzz.py`` passes the server's address and the OpenAPI document's path in
``ORION_FUZZ_BASE_URL`` and ``ORION_FUZZ_DOCUMENT``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from functools import cache
from typing import Any

import schemathesis
from hypothesis import strategies as st

from tests.stress import hostile
from tests.stress.readback import Client, readback_problems

# Schemathesis encodes and decodes bodies in this process: let it handle the deepest.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20 * hostile.MAX_DEPTH))

CREATE_PATH = re.compile(r"^/api((?:/[a-z_0-9]+)+)/$")
EXTREME_PAGING = ("1e20", "-1", "9" * 30, "1e308")


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    return hostile.mutated(body) if isinstance(body, dict | list) else st.just(body)


@schemathesis.hook
def flatmap_query(context: Any, query: Any) -> st.SearchStrategy[Any]:
    if not isinstance(query, dict):
        return st.just(query)
    return st.fixed_dictionaries(
        {
            key: st.one_of(st.just(value), st.sampled_from(EXTREME_PAGING))
            if key in ("offset", "limit")
            else st.just(value)
            for key, value in query.items()
        }
    )


@cache
def _paths() -> dict[str, Any]:
    with open(os.environ["ORION_FUZZ_DOCUMENT"], encoding="utf-8") as handle:
        return json.load(handle)["paths"]  # type: ignore[no-any-return]


@schemathesis.check
def created_is_readable(ctx: Any, response: Any, case: Any) -> bool | None:
    """A successful create can be read back and listed, with its values intact."""
    match = CREATE_PATH.match(case.formatted_path)
    if case.method.upper() != "POST" or response.status_code not in (200, 201) or match is None:
        return None
    try:
        created = response.json()
    except ValueError:
        return None
    client = Client(os.environ["ORION_FUZZ_BASE_URL"])
    problems = list(readback_problems(client, _paths(), match.group(1), case.body, created))
    if problems:
        raise AssertionError("; ".join(f"{kind} ({detail})" for kind, detail in problems))
    return None
