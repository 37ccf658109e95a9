"""Voids: a retracted event leaves the buckets (folded again with the opposite sign) and
downstream recomputes; the raw row stays, marked voided."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from core.errors import NotFoundError
from kpis import buckets
from kpis.catalogue import interaction_settings
from kpis.ingest.apply import enqueue_apply, failed_batches_retry
from kpis.ingest.fold import Folded
from kpis.models import IngestBatch, RawEvent
from kpis.schemas import TYPE_NAMES


def event_void(*, tenant: Tenant, event_id: str) -> RawEvent:
    """Retract an event: its contribution leaves the buckets, and downstream recomputes.

    Voiding twice is harmless: the second call returns the already voided event.
    """
    with transaction.atomic():
        buckets.advisory_lock(buckets.INGEST_LOCK, tenant.pk, shared=True)
        event = (
            RawEvent.objects.for_tenant(tenant)
            .select_for_update()
            .filter(event_id=event_id)
            .first()
        )
        if event is None:
            raise NotFoundError(f"No event with event_id {event_id!r}.")
        if event.voided_at is not None:
            return event
        now = timezone.now()
        event.voided_at = now
        event.save(update_fields=["voided_at"])
        folded = Folded()
        folded.add(
            type_name=TYPE_NAMES[event.type],
            payload=event.payload,
            occurred_at=event.occurred_at,
            agent_id=event.agent_id,
            team_id=event.team_id,
            settings=interaction_settings(tenant),
            tz=tenant.tz,
            sign=-1,
        )
        folded.write(tenant.pk, tenant.tz)
        agent_days, team_days = folded.day_rows(tenant.tz)
        for table, key, rows, parts in (
            (buckets.AGENT_HOUR, "agent_id", folded.agent_hours, ("hour",)),
            (buckets.TEAM_HOUR, "team_id", folded.team_hours, ("hour",)),
            (buckets.AGENT_DAY, "agent_id", agent_days, ("day",)),
            (buckets.TEAM_DAY, "team_id", team_days, ("day",)),
            (buckets.AGENT_METRIC, "agent_id", folded.agent_metrics, ("kpi", "hour")),
            (buckets.TEAM_METRIC, "team_id", folded.team_metrics, ("kpi", "hour")),
        ):
            buckets.drop_empty(table, key, tenant_id=tenant.pk, keys=rows.keys(), key_parts=parts)
        IngestBatch.objects.create(
            tenant=tenant,
            source=IngestBatch.Source.VOID,
            created_at=now,
            accepted=1,  # the voided event is pending until downstream recomputed
            touched=folded.touched(),
        )
        failed_batches_retry(tenant=tenant)  # a void is how a bad event is fixed
        enqueue_apply(tenant.pk)
        return event
