"""Celery tasks of coaching: thin wrappers that take ids and return an outcome."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Tenant
from core import tenancy
from gamify.coaching import evaluation


@shared_task(name="gamify.coaching_close_periods")
def close_periods() -> str:
    """Beat: judge goals and alert rules once more for every period past its grace window."""
    done = 0
    for tenant in Tenant.objects.order_by("pk"):
        with tenancy.tenant_scope(tenant):
            done += len(evaluation.periods_close_due(tenant=tenant))
    return f"closed {done} periods"
