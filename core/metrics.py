"""Prometheus metrics: HTTP requests here; apps add their own counters and scrape-time gauges.

Under gunicorn with several workers set `PROMETHEUS_MULTIPROC_DIR` (an empty, writable folder)
so that /metrics adds up every worker's counters.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter(
    "gamify_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "gamify_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Gauges read from the database when /metrics is scraped (apps append to this list).
SCRAPE_COLLECTORS: list[Callable[[], Iterable[Metric]]] = []


class _ScrapeCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        for produce in SCRAPE_COLLECTORS:
            yield from produce()


def metrics_view(request: HttpRequest) -> HttpResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scrape = CollectorRegistry()
    scrape.register(_ScrapeCollector())
    body = generate_latest(registry) + generate_latest(scrape)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


class PrometheusMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # labels() takes a lock and builds keys on every call: keep each child once found
        # (routes, methods and statuses are few).
        self._latency: dict[tuple[str, str], Any] = {}
        self._requests: dict[tuple[str, str, int], Any] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        route = match.route if match else "unmatched"
        method = request.method or "GET"
        latency = self._latency.get((method, route))
        if latency is None:
            latency = self._latency[(method, route)] = HTTP_LATENCY.labels(method, route)
        latency.observe(time.perf_counter() - started)
        status = response.status_code
        counter = self._requests.get((method, route, status))
        if counter is None:
            counter = HTTP_REQUESTS.labels(method, route, str(status))
            self._requests[(method, route, status)] = counter
        counter.inc()
        return response
