"""Body serializers are reused per thread (``orion_project.api.filtering.validate_body``):
a rejected body leaves nothing behind for the next one, and threads validating different
bodies at once each get their own answer."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from orion_project.api.errors import RequestValidationError
from orion_project.api.filtering import validate_body
from runs_app.api.flow_runs import FlowRunsCountRequest
from tests.helpers import ApiClient, make_flow_run

pytestmark = pytest.mark.django_db


def test_a_rejected_body_does_not_leak_into_the_next_one(api: ApiClient) -> None:
    make_flow_run(api, "COMPLETED", tags=["kept"])
    bad = api.post("/flow_runs/count", {"flow_runs": {"tags": {"all_": "not-a-list"}, "bogus": 1}})
    assert bad.status_code == 422
    locations = sorted(tuple(error["loc"]) for error in bad.json()["exception_detail"])
    assert locations == [("body", "flow_runs", "bogus"), ("body", "flow_runs", "tags", "all_")]
    good = api.post("/flow_runs/count", {"flow_runs": {"tags": {"all_": ["kept"]}}})
    assert (good.status_code, good.json()) == (200, 1)
    assert api.post("/flow_runs/count", {}).json() == 1


def test_threads_validating_at_once_get_their_own_bodies() -> None:
    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def validate(index: int) -> None:
        barrier.wait()
        try:
            for _ in range(50):
                if index % 2:
                    data = validate_body(FlowRunsCountRequest, {"flow_runs": {"tags": {"all_": [f"t{index}"]}}})
                    assert data["flow_runs"]["tags"]["all_"] == [f"t{index}"]
                else:
                    with pytest.raises(RequestValidationError):
                        validate_body(FlowRunsCountRequest, {"flow_runs": {"name": {"any_": index}}})
            results[index] = True
        except BaseException as error:  # reported below, in the main thread
            errors.append(error)

    threads = [threading.Thread(target=validate, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 8
