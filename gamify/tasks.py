"""Tasks shared by gamify's parts (live boards)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from accounts.models import Tenant
from gamify.contests.models import Contest
from gamify.contests.services import contest_board_populate
from gamify.leaderboards.service import board_populate
from kpis import buckets


@shared_task(name="gamify.populate_board", acks_late=True)
def populate_board(tenant_id: int, metric: str, kind: str) -> str:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return "gone"
    # Under the apply lock, so that no refresh computed earlier lands after this fill.
    with transaction.atomic():
        buckets.advisory_lock(buckets.APPLY_LOCK, tenant.pk)
        return f"{board_populate(tenant=tenant, metric=metric, kind=kind)} entries"


@shared_task(name="gamify.populate_contest", acks_late=True)
def populate_contest(contest_id: int) -> str:
    contest = Contest.objects.filter(pk=contest_id).select_related("tenant").first()
    if contest is None:
        return "gone"
    with transaction.atomic():
        buckets.advisory_lock(buckets.APPLY_LOCK, contest.tenant_id)
        contest.refresh_from_db()  # its status may have moved while the task waited
        return f"{contest_board_populate(contest=contest)} entries"
