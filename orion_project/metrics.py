"""Prometheus metrics: request counts and latency, plus what the apps report from the database.

Request metrics are process-local counters (``prometheus-client``), updated by
:class:`RequestMetricsMiddleware` at a cost of a few microseconds per request. Under
granian with several worker processes each worker only knows its own requests; set
``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable directory before the server starts and
the library shares them through files in it, which the scrape then sums (see
docs/operations.md). Everything else comes from the database, so any API process
answers the same: apps register a collector function with :func:`register_collector`
(as they register their routes), and the services loop records its passes in
:class:`~orion_project.models.ServiceHeartbeat`. A gauge about a workspace's rows carries
the label :data:`WORKSPACE_LABEL` (the workspace's slug); the service and request metrics
here belong to no workspace.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Route labels are URL pattern names, never raw paths, so their number stays bounded.
REQUEST_SECONDS = Histogram(
    "orion_http_request_duration_seconds",
    "API request latency by route, method and status; the _count series is the request count.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)

# The label that names the workspace of a gauge's sample.
WORKSPACE_LABEL = "workspace"

CollectorFunction = Callable[[], Iterable[Metric]]
_collectors: list[CollectorFunction] = []


def register_collector(collector: CollectorFunction) -> None:
    """Add a function whose metric families every scrape includes (apps call it in ``ready``)."""
    if collector not in _collectors:
        _collectors.append(collector)


class _DatabaseCollector:
    """Runs the registered collector functions at scrape time."""

    def collect(self) -> Iterable[Metric]:
        for collector in _collectors:
            yield from collector()


def render_metrics() -> bytes:
    """The Prometheus text exposition of every metric this process can see."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(_DatabaseCollector())
    return generate_latest(registry)


class RequestMetricsMiddleware:
    """Observe every request's duration under its route name, method and status.

    The histogram child for a (route, method, status) is looked up once and kept, so a
    request costs one dictionary lookup and one ``observe``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._children: dict[tuple[str, str, int], Any] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        key = (match.view_name if match is not None else "unmatched", request.method or "", response.status_code)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = REQUEST_SECONDS.labels(key[0], key[1], str(key[2]))
        child.observe(elapsed)
        return response


def gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    """A gauge family for a collector to fill with ``add_metric``."""
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def service_metrics() -> Iterable[Metric]:
    """``orion_service_last_success_timestamp`` and ``orion_service_loop_seconds`` per service."""
    from orion_project.models import ServiceHeartbeat

    success = gauge("orion_service_last_success_timestamp", "Unix time a service last finished a pass.", ["service"])
    failure = gauge("orion_service_last_failure_timestamp", "Unix time a service pass last failed.", ["service"])
    loop = gauge("orion_service_loop_seconds", "How long a service's last pass took.", ["service"])
    for beat in ServiceHeartbeat.objects.order_by("name"):
        if beat.last_success is not None:
            success.add_metric([beat.name], beat.last_success.timestamp())
        if beat.last_failure is not None:
            failure.add_metric([beat.name], beat.last_failure.timestamp())
        loop.add_metric([beat.name], beat.loop_seconds)
    return [success, failure, loop]
