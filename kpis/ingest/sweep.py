"""What a lost task left undone, for the sweeper (`kpis.sweep_pending`, every 15 s): batches
not applied, settings recomputes not done, imports not progressing. It looks across tenants
on purpose: its queries are `unscoped()` (core/tenancy)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from kpis.models import ImportJob, IngestBatch
from kpis.models import InteractionSettings as InteractionSettingsRow

STALLED_AFTER = timedelta(minutes=1)


def stalled_work(*, now: datetime | None = None) -> dict[str, list[int]]:
    """What a lost task left undone: batches not applied, settings recomputes not done,
    imports not progressing. The sweeper enqueues each again (their tasks are idempotent)."""
    now = now or timezone.now()
    settings_cutoff = now - timedelta(seconds=settings.SWEEP_AFTER_SECONDS)
    return {
        "apply": tenants_with_stale_batches(),
        "recompute": sorted(
            InteractionSettingsRow.objects.unscoped()
            .filter(recompute_requested_at__lt=settings_cutoff)
            .values_list("tenant_id", flat=True)
        ),
        "import": sorted(
            ImportJob.objects.unscoped()
            .filter(
                status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING],
                updated_at__lt=now - STALLED_AFTER,
            )
            .values_list("id", flat=True)
        ),
    }


def tenants_with_stale_batches(*, older_than_seconds: int | None = None) -> list[int]:
    """Tenants with batches stored a while ago and still unapplied, or set aside and due to be
    tried again."""
    if older_than_seconds is None:
        older_than_seconds = settings.SWEEP_AFTER_SECONDS
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    return sorted(
        set(
            IngestBatch.objects.unscoped()
            .filter(applied_at__isnull=True, created_at__lt=cutoff)
            .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
            .values_list("tenant_id", flat=True)
        )
    )
