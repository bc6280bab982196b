"""``/`` while no Prefect UI is installed: where to go instead, and how to install it."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from orion_project.ui.install import DEFAULT_VERSION


def landing(request: HttpRequest) -> HttpResponse:
    """A small page linking the admin, the API docs and the UI install command."""
    context = {"ui_dir": settings.ORION_UI_DIR, "default_version": DEFAULT_VERSION}
    return render(request, "orion_ui/landing.html", context)
