"""Where the OpenAPI document is served (a module of its own: drf-spectacular's views import
the schema class of ``orion_project.api.schema``)."""

from __future__ import annotations

from drf_spectacular.renderers import OpenApiJsonRenderer2, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView


class OpenApiJsonView(SpectacularAPIView):
    """``GET /api/openapi.json``: the document as ``application/json``, whatever the client
    accepts, as the reference serves it (code generators and fuzzers fetch this URL)."""

    renderer_classes = [OpenApiJsonRenderer2]


class OpenApiYamlView(SpectacularAPIView):
    """``GET /api/openapi.yaml``: the same document in YAML."""

    renderer_classes = [OpenApiYamlRenderer]
