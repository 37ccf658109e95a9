"""Ingestion metrics for /metrics."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Min, Sum
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from core.metrics import SCRAPE_COLLECTORS

EVENTS = Counter(
    "gamify_events_total", "Events received, by outcome and source", ["outcome", "source"]
)
BATCH_SECONDS = Histogram(
    "gamify_ingest_batch_seconds",
    "Time to validate and store one POST /events batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
ENQUEUE_FAILURES = Counter(
    "gamify_enqueue_failures_total", "Tasks that could not be sent to the broker"
)
APPLY_FAILURES = Counter(
    "gamify_apply_failures_total",
    "Batches the apply task could not apply (set aside and retried with a back-off)",
)
APPLY_SECONDS = Histogram(
    "gamify_apply_seconds", "Time to apply pending batches downstream for one tenant"
)


def _pending() -> Iterable[Metric]:
    from kpis.models import IngestBatch

    row = (
        IngestBatch.objects.unscoped()
        .filter(applied_at__isnull=True, failed_at__isnull=True)
        .aggregate(events=Sum("accepted"), batches=Count("id"), oldest=Min("created_at"))
    )
    failed = (
        IngestBatch.objects.unscoped()
        .filter(applied_at__isnull=True, failed_at__isnull=False)
        .aggregate(events=Sum("accepted"), batches=Count("id"))
    )
    events = GaugeMetricFamily(
        "gamify_ingest_pending_events", "Events stored but not yet applied downstream"
    )
    events.add_metric([], row["events"] or 0)
    yield events
    batches = GaugeMetricFamily("gamify_ingest_pending_batches", "Batches not yet applied")
    batches.add_metric([], row["batches"] or 0)
    yield batches
    age = GaugeMetricFamily(
        "gamify_ingest_oldest_pending_seconds", "Age of the oldest unapplied batch"
    )
    age.add_metric([], (timezone.now() - row["oldest"]).total_seconds() if row["oldest"] else 0)
    yield age
    failed_batches = GaugeMetricFamily(
        "gamify_ingest_failed_batches",
        "Batches set aside because applying them failed (GET /ingest/status shows the errors)",
    )
    failed_batches.add_metric([], failed["batches"] or 0)
    yield failed_batches
    failed_events = GaugeMetricFamily(
        "gamify_ingest_failed_events", "Events in batches set aside after a failed apply"
    )
    failed_events.add_metric([], failed["events"] or 0)
    yield failed_events


SCRAPE_COLLECTORS.append(_pending)
