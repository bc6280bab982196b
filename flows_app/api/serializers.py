"""Request and response shapes of flows (reference §B.1 Flow, FlowCreate, FlowUpdate)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flows_app.models import Flow
from orion_project.api.fields import NameField, StrictSerializer, tags_field
from orion_project.api.viewsets import OrionModelSerializer


def flow_json(flow: Flow, now: dt.datetime | None = None) -> dict[str, Any]:
    """A flow as the API returns it: the one rendering, which :class:`FlowSerializer`
    documents and delegates to. A page of flows is read with every page of runs the
    dashboard shows; DRF's field-by-field serialization cost more than the rows."""
    return {"id": flow.id, "created": flow.created, "updated": flow.updated, "name": flow.name, "tags": flow.tags}


class FlowSerializer(OrionModelSerializer):
    """A flow as the API returns it."""

    render = staticmethod(flow_json)

    def to_representation(self, instance: Any) -> Any:
        return flow_json(instance)

    class Meta:
        model = Flow
        fields = ["id", "created", "updated", "name", "tags"]


class FlowCreateSerializer(StrictSerializer):
    """Body of ``POST /flows/``."""

    name = NameField(required=True, allow_null=False, help_text="The name of the flow.")
    tags = tags_field(default=list, help_text="A list of flow tags.")


class FlowUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /flows/{id}``: only ``tags`` can change."""

    tags = tags_field(help_text="A list of flow tags.", allow_null=False)
