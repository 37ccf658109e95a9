"""Celery tasks of the game engine: thin wrappers that take ids and return an outcome."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from accounts.models import Tenant
from core import tenancy
from gamify.game import finalization
from kpis.ingest import changes_announce


@shared_task(name="gamify.recompute_open_periods", acks_late=True)
def recompute_open_periods(tenant_id: int) -> str:
    """Kept for messages queued by an earlier version: a rule change is now announced through
    kpis' outbox (services._recompute_later), so boards and contests follow it too."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return "gone"
    with transaction.atomic():
        changes_announce(tenant=tenant, everything=True)
    return "announced"


@shared_task(name="gamify.finalize_periods")
def finalize_periods() -> str:
    """Beat: freeze every period whose grace window has passed, in every tenant."""
    done = 0
    for tenant in Tenant.objects.order_by("pk"):
        with tenancy.tenant_scope(tenant):
            done += len(finalization.periods_finalize_due(tenant=tenant))
    return f"finalized {done} periods"
