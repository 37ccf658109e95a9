"""The beat moving contests along (`gamify.advance_contests`, every minute): start what is
due, end what is over, finalize what is past its grace window."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from gamify.contests.models import Contest
from gamify.contests.services.finalization import contest_finalize
from gamify.contests.services.lifecycle import announce_started
from gamify.game.finalization import grace

log = logging.getLogger(__name__)


def contests_advance(*, tenant: Tenant, now: datetime | None = None) -> list[str]:
    """Beat: start, end and finalize the tenant's contests whose time has come."""
    now = now or timezone.now()
    outcomes = []
    wait = grace(tenant)
    contests = Contest.objects.for_tenant(tenant)
    for contest in contests.filter(status=Contest.Status.SCHEDULED, starts_at__lte=now):
        with transaction.atomic():
            updated = contests.filter(pk=contest.pk, status=Contest.Status.SCHEDULED).update(
                status=Contest.Status.RUNNING
            )
            if updated:  # another worker may have started it
                announce_started(contest)
                outcomes.append(f"started {contest.pk}")
    moved = contests.filter(status=Contest.Status.RUNNING, ends_at__lte=now).update(
        status=Contest.Status.FINALIZING
    )
    if moved:
        outcomes.append(f"{moved} ended")
    for contest in contests.filter(status=Contest.Status.FINALIZING, ends_at__lte=now - wait):
        try:
            outcomes.append(contest_finalize(contest_id=contest.pk))
        except Exception:  # one broken contest must not hold back the others
            log.exception("Finalizing contest %s failed; it stays finalizing", contest.pk)
            outcomes.append(f"contest {contest.pk}: failed")
    return outcomes
