"""Request and response shapes of flows (reference §B.1 Flow, FlowCreate, FlowUpdate)."""

from __future__ import annotations

from flows_app.models import Flow
from orion_project.api.fields import NameField, StrictSerializer, tags_field
from orion_project.api.viewsets import OrionModelSerializer


class FlowSerializer(OrionModelSerializer):
    """A flow as the API returns it."""

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
