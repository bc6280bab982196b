"""Where the OpenAPI document and ReDoc's bundle are served (a module of its own:
drf-spectacular's views import the schema class of ``orion_project.api.schema``)."""

from __future__ import annotations

import functools
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from drf_spectacular.renderers import OpenApiJsonRenderer2, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView


class OpenApiJsonView(SpectacularAPIView):
    """``GET /api/openapi.json``: the document as ``application/json``, whatever the client
    accepts, as the reference serves it (code generators and fuzzers fetch this URL)."""

    renderer_classes = [OpenApiJsonRenderer2]


class OpenApiYamlView(SpectacularAPIView):
    """``GET /api/openapi.yaml``: the same document in YAML."""

    renderer_classes = [OpenApiYamlRenderer]


# ReDoc's bundle draws Redocly's logo from its CDN in the sidebar footer (no setting turns
# it off). The docs pages load nothing from outside this server, so the bundle is served
# with that one URL pointing at a blank image instead.
REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
BLANK_IMAGE = b"data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


@functools.cache
def _redoc_bundle() -> bytes:
    found = finders.find(REDOC_BUNDLE)
    if not found:
        raise Http404("ReDoc is not installed.")
    return Path(str(found)).read_bytes().replace(REDOC_CDN_LOGO, BLANK_IMAGE)


def redoc_bundle(request: HttpRequest) -> HttpResponse:
    """``GET /redoc/redoc.standalone.js``: the sidecar's ReDoc, fetching nothing from outside."""
    response = HttpResponse(_redoc_bundle(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


class RedocView(SpectacularRedocView):
    """``/redoc``: ReDoc on the bundle above, with system fonts (no web fonts)."""

    template_name = "orion_docs/redoc.html"

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("redoc-bundle")
