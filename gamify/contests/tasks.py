"""Beat task moving contests along their lifecycle."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Tenant
from gamify.contests.services import contests_advance


@shared_task(name="gamify.advance_contests")
def advance_contests() -> str:
    outcomes: list[str] = []
    for tenant in Tenant.objects.order_by("pk"):
        outcomes += contests_advance(tenant=tenant)
    return "; ".join(outcomes) or "nothing due"
