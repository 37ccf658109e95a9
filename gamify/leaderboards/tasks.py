"""Celery tasks of the live boards (registered through gamify/tasks.py)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from accounts.models import Tenant
from gamify.leaderboards import service  # a module: service enqueues these tasks in turn
from kpis import buckets


@shared_task(name="gamify.populate_board", acks_late=True)
def populate_board(tenant_id: int, metric: str, kind: str) -> str:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return "gone"
    # Under the apply lock, so that no refresh computed earlier lands after this fill.
    with transaction.atomic():
        buckets.advisory_lock(buckets.APPLY_LOCK, tenant.pk)
        filled = service.board_fill(service.current_board(tenant, metric, kind), unless_live=True)
        # None: an apply run filled it while this task waited.
        return "already live" if filled is None else f"{filled} entries"
