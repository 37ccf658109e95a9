"""Rebuild: every bucket of a tenant recomputed from its non-voided raw events under the
current settings (`manage.py rebuild`, a settings change). The result equals what ingesting
the same events incrementally gives: the invariant the property tests check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from kpis import buckets
from kpis.catalogue import interaction_settings
from kpis.ingest.apply import enqueue_apply, failed_batches_retry
from kpis.ingest.fold import Folded
from kpis.models import IngestBatch, RawEvent
from kpis.models import InteractionSettings as InteractionSettingsRow
from kpis.schemas import TYPE_NAMES


@dataclass
class RebuildSummary:
    tenant: str
    events: int = 0
    agent_hours: int = 0
    team_hours: int = 0


FLUSH_EVERY = 50_000


def buckets_rebuild(
    *, tenant: Tenant, progress: Callable[[int, int], None] | None = None
) -> RebuildSummary:
    """Recompute every bucket of the tenant from its non-voided raw events.

    Ingestion waits on the tenant's lock meanwhile (it holds it shared), so the result is a
    consistent fold even while events keep arriving; readers see the old buckets until commit.
    """
    summary = RebuildSummary(tenant=tenant.slug)
    with transaction.atomic():
        buckets.advisory_lock(buckets.INGEST_LOCK, tenant.pk)
        # Settings read below are the ones this recompute applies: any request for it is met.
        InteractionSettingsRow.objects.filter(tenant=tenant).update(recompute_requested_at=None)
        settings = interaction_settings(tenant)
        total = RawEvent.objects.for_tenant(tenant).filter(voided_at__isnull=True).count()
        buckets.delete_tenant_buckets(tenant.pk)
        folded = Folded()
        rows = (
            RawEvent.objects.for_tenant(tenant)
            .filter(voided_at__isnull=True)
            .order_by("id")
            .values_list("type", "payload", "occurred_at", "agent_id", "team_id")
        )
        for type_code, payload, occurred_at, agent_id, team_id in rows.iterator(chunk_size=5000):
            folded.add(
                type_name=TYPE_NAMES[type_code],
                payload=payload,
                occurred_at=occurred_at,
                agent_id=agent_id,
                team_id=team_id,
                settings=settings,
                tz=tenant.tz,
            )
            summary.events += 1
            if summary.events % FLUSH_EVERY == 0:
                _flush(folded, tenant.pk, summary, tenant.tz)
                folded = Folded()
                if progress:
                    progress(summary.events, total)
        _flush(folded, tenant.pk, summary, tenant.tz)
        if progress:
            progress(summary.events, total)
        IngestBatch.objects.create(
            tenant=tenant,
            source=IngestBatch.Source.RECOMPUTE,
            created_at=timezone.now(),
            everything=True,
        )
        failed_batches_retry(tenant=tenant)
        enqueue_apply(tenant.pk)
    return summary


def _flush(folded: Folded, tenant_id: int, summary: RebuildSummary, tz: Any) -> None:
    folded.write(tenant_id, tz)
    summary.agent_hours += len(folded.agent_hours)
    summary.team_hours += len(folded.team_hours)
