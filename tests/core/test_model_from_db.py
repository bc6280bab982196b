"""Rows read as instances (``OrionModel.from_db``): the instance the short path builds
is the one Django's ``Model.__init__`` builds, for whole rows, deferred columns and
``select_related`` joins, read through the ORM and through the compiled reads; a model
with an init-signal receiver goes through Django's own path."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Model
from django.db.models.signals import post_init

from flows_app.models import Flow
from orion_project.models import OrionModel, _stores_plainly
from runs_app.models import FlowRun
from tests.factories import FlowRunFactory
from tests.helpers import ApiClient

pytestmark = pytest.mark.django_db


def _django_from_db(cls: type[Model], db: str | None, field_names: Any, values: Any) -> Any:
    return Model.from_db.__func__(cls, db, field_names, values)  # type: ignore[attr-defined]


def _shape(instance: Model) -> dict[str, Any]:
    """What an instance holds: its attributes, its state, its cached related objects."""
    values = {key: value for key, value in instance.__dict__.items() if key != "_state"}
    state = instance._state
    related = {name: _shape(value) for name, value in state.fields_cache.items() if value is not None}
    return {"values": values, "adding": state.adding, "db": state.db, "related": related}


def _both_ways(read: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    fast = [_shape(instance) for instance in read()]
    monkeypatch.setattr(OrionModel, "from_db", classmethod(_django_from_db))
    django = [_shape(instance) for instance in read()]
    monkeypatch.undo()
    return fast, django


def test_instances_equal_djangos_whole_deferred_and_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(3):
        FlowRunFactory()
    assert _stores_plainly(FlowRun) and _stores_plainly(Flow)  # the short path is the one compared
    reads = [
        lambda: list(FlowRun.objects.order_by("id")),
        lambda: list(FlowRun.objects.only("name", "flow_id").order_by("id")),
        lambda: list(FlowRun.objects.defer("parameters", "context").order_by("id")),
        lambda: list(FlowRun.objects.select_related("flow", "state").order_by("id")),
        lambda: list(FlowRun.objects.select_related("flow").only("name", "flow__name").order_by("id")),
    ]
    for read in reads:
        fast, django = _both_ways(read, monkeypatch)
        assert fast == django and len(fast) == 3


def test_a_deferred_column_is_read_when_asked() -> None:
    run = FlowRunFactory(name="named")
    (deferred,) = FlowRun.objects.only("id").filter(pk=run.pk)
    assert deferred.get_deferred_fields() >= {"name", "parameters"}
    assert deferred.name == "named"


def test_a_post_init_receiver_gets_djangos_path(api: ApiClient) -> None:
    flow = api.post("/flows/", {"name": "watched"}).json()
    seen: list[Any] = []

    def receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=Flow)
    try:
        assert api.get(f"/flows/{flow['id']}").json() == flow
        assert [str(instance.id) for instance in seen] == [flow["id"]]
    finally:
        post_init.disconnect(receiver, sender=Flow)
