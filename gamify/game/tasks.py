"""Celery tasks of the game engine: thin wrappers that take ids and return an outcome."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Tenant
from gamify.game import finalization, services


@shared_task(name="gamify.recompute_open_periods", acks_late=True)
def recompute_open_periods(tenant_id: int) -> str:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return "gone"
    return services.game_rebuild(tenant=tenant)


@shared_task(name="gamify.finalize_periods")
def finalize_periods() -> str:
    """Beat: freeze every period whose grace window has passed, in every tenant."""
    done = 0
    for tenant in Tenant.objects.order_by("pk"):
        done += len(finalization.periods_finalize_due(tenant=tenant))
    return f"finalized {done} periods"
