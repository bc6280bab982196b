"""``/templates/validate``: the check the dashboard runs on the templates of an action
as it is typed, with the answers of the 2.20 reference (recorded against it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import ApiClient

NESTED = "{% for a in b %}{% for c in a %}{% for d in c %}{% endfor %}{% endfor %}{% endfor %}"
ELEVEN = "{% for a in b %}{% endfor %}" * 11


@pytest.mark.parametrize("body", ["hello {{ x }}", "", 5, "{% for a in b %}{% for c in a %}{% endfor %}{% endfor %}"])
def test_accepted_templates(api: ApiClient, body: Any) -> None:
    assert api.post("/templates/validate", body).status_code == 204


@pytest.mark.parametrize("raw", ["", "null"])
def test_no_body_or_null_is_the_empty_template(api: ApiClient, raw: str) -> None:
    assert api.request("post", "/templates/validate", raw=raw).status_code == 204


@pytest.mark.parametrize(
    ("template", "line", "message"),
    [
        ("hello {{ x ", 1, "unexpected end of template, expected 'end of print statement'."),
        (
            NESTED,
            0,
            "Contains nested for loops at a depth of 3. Templates can nest for loops no more than 2 loops deep.",
        ),
        (ELEVEN, 0, "Contains 11 for loops. Templates can contain no more than 10 for loops."),
    ],
)
def test_refused_templates(api: ApiClient, template: str, line: int, message: str) -> None:
    response = api.post("/templates/validate", template)
    assert (response.status_code, response.json()) == (
        422,
        {"error": {"line": line, "message": message, "source": template}},
    )


@pytest.mark.parametrize("body", [[1], {"a": 1}])
def test_a_body_that_is_not_text(api: ApiClient, body: Any) -> None:
    response = api.post("/templates/validate", body)
    assert (response.status_code, response.json()) == (
        422,
        {
            "exception_message": "Invalid request received.",
            "exception_detail": [{"loc": ["body"], "msg": "str type expected", "type": "type_error.str"}],
            "request_body": body,
        },
    )
