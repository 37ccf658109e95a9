"""Celery tasks of contests: the beat task moving them along their lifecycle, and the fill of
a running contest's live board."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from accounts.models import Tenant
from core import tenancy
from gamify.contests.models import Contest
from gamify.contests.services import contest_board_populate, contests_advance
from kpis import buckets


@shared_task(name="gamify.advance_contests")
def advance_contests() -> str:
    outcomes: list[str] = []
    for tenant in Tenant.objects.order_by("pk"):
        with tenancy.tenant_scope(tenant):
            outcomes += contests_advance(tenant=tenant)
    return "; ".join(outcomes) or "nothing due"


@shared_task(name="gamify.populate_contest", acks_late=True)
def populate_contest(contest_id: int) -> str:
    # A task's entry: the contest's id names its tenant (core/tenancy).
    contest = Contest.objects.unscoped().filter(pk=contest_id).select_related("tenant").first()
    if contest is None:
        return "gone"
    with tenancy.tenant_scope(contest.tenant_id), transaction.atomic():
        buckets.advisory_lock(buckets.APPLY_LOCK, contest.tenant_id)
        contest.refresh_from_db()  # its status may have moved while the task waited
        filled = contest_board_populate(contest=contest, unless_live=True)
        # None: an apply run filled it while this task waited.
        return "already live" if filled is None else f"{filled} entries"
