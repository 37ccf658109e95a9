"""Contest lifecycle: draft → scheduled → running → finalizing → finished (or cancelled).

Created, changed (while a draft or scheduled) and cancelled here; started and ended by the beat
(beat.py), finished by finalization.py, which schedules a recurring contest's next instance.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit.services import audit_record, snapshot
from accounts.models import Tenant
from core.errors import ConflictError
from gamify.activity.services import NewActivity, activities_record
from gamify.contests.models import Contest
from gamify.contests.services.validation import FIELDS, contest_validate

EDITABLE = (Contest.Status.DRAFT, Contest.Status.SCHEDULED)


class ContestClosed(ConflictError):
    slug = "contest-closed"
    title = "The contest can no longer change"


def status_for(contest: Contest, now: datetime) -> str:
    if contest.starts_at <= now:
        return Contest.Status.RUNNING
    return Contest.Status.SCHEDULED


def contest_create(*, tenant: Tenant, values: Mapping[str, Any], draft: bool = False) -> Contest:
    """Create a contest: a draft, scheduled, or running at once when it started already (what
    happened in its window so far counts)."""
    clean = contest_validate(tenant=tenant, values=values)
    with transaction.atomic():
        contest = Contest(tenant=tenant, **clean)
        contest.status = Contest.Status.DRAFT if draft else status_for(contest, timezone.now())
        contest.save()
        audit_record(
            tenant=tenant,
            action="create",
            object_type="contest",
            object_id=contest.pk,
            object_repr=contest.name,
            after=snapshot(contest, (*FIELDS, "status")),
        )
        if contest.status == Contest.Status.RUNNING:
            announce_started(contest)
    return contest


def contest_update(
    *, contest: Contest, changes: Mapping[str, Any], draft: bool | None = None
) -> Contest:
    """Change a draft or scheduled contest (a running one is closed to edits: 409)."""
    with transaction.atomic():
        contest = (
            Contest.objects.for_tenant(contest.tenant_id).select_for_update().get(pk=contest.pk)
        )
        if contest.status not in EDITABLE:
            raise ContestClosed(f"A {contest.status} contest can no longer be changed.")
        current = {name: getattr(contest, name) for name in FIELDS}
        before = snapshot(contest, (*FIELDS, "status"))
        clean = contest_validate(tenant=contest.tenant, values={**current, **changes})
        for name, value in clean.items():
            setattr(contest, name, value)
        if draft is not None or contest.status != Contest.Status.DRAFT:
            keep_draft = draft if draft is not None else False
            if keep_draft:
                contest.status = Contest.Status.DRAFT
            else:
                contest.status = status_for(contest, timezone.now())
        contest.save()
        audit_record(
            tenant=contest.tenant_id,
            action="update",
            object_type="contest",
            object_id=contest.pk,
            object_repr=contest.name,
            before=before,
            after=snapshot(contest, (*FIELDS, "status")),
        )
        if contest.status == Contest.Status.RUNNING:
            announce_started(contest)
    return contest


def contest_cancel(*, contest: Contest) -> Contest:
    with transaction.atomic():
        contest = (
            Contest.objects.for_tenant(contest.tenant_id).select_for_update().get(pk=contest.pk)
        )
        if contest.status in (Contest.Status.FINISHED, Contest.Status.CANCELLED):
            raise ContestClosed(f"The contest is already {contest.status}.")
        before = contest.status
        contest.status = Contest.Status.CANCELLED
        contest.save(update_fields=["status"])
        audit_record(
            tenant=contest.tenant_id,
            action="cancel",
            object_type="contest",
            object_id=contest.pk,
            object_repr=contest.name,
            before={"status": before},
            after={"status": contest.status},
        )
    return contest


def announce_started(contest: Contest) -> None:
    activities_record(
        tenant=contest.tenant,
        items=[
            NewActivity(
                type="contest.started",
                key=f"contest:{contest.pk}:started",
                data=summary(contest),
            )
        ],
    )


def summary(contest: Contest) -> dict[str, Any]:
    return {
        "contest": contest.pk,
        "name": contest.name,
        "kind": contest.kind,
        "metric": contest.metric,
        "starts_at": contest.starts_at.isoformat(),
        "ends_at": contest.ends_at.isoformat(),
    }


def schedule_next(contest: Contest) -> Contest:
    """The next instance of a recurring contest, one period on (the first not over yet)."""
    tz = contest.tenant.tz
    start, end = contest.starts_at.astimezone(tz), contest.ends_at.astimezone(tz)

    def shift(moment: datetime) -> datetime:
        if contest.recurrence == Contest.Recurrence.DAILY:
            local = moment.replace(tzinfo=None) + timedelta(days=1)
        elif contest.recurrence == Contest.Recurrence.WEEKLY:
            local = moment.replace(tzinfo=None) + timedelta(days=7)
        else:
            month = moment.month % 12 + 1
            year = moment.year + (moment.month == 12)
            # The 31st of a 30-day month is its last day (and so on for February).
            last_day = calendar.monthrange(year, month)[1]
            local = moment.replace(
                tzinfo=None, year=year, month=month, day=min(moment.day, last_day)
            )
        return local.replace(tzinfo=tz)

    values = {name: getattr(contest, name) for name in FIELDS}
    next_start, next_end = shift(start), shift(end)
    while next_end <= timezone.now():  # a finalization that ran late skips missed instances
        next_start, next_end = shift(next_start), shift(next_end)
    values.update(starts_at=next_start, ends_at=next_end)
    clean = contest_validate(tenant=contest.tenant, values=values)
    following = Contest(tenant=contest.tenant, previous=contest, **clean)
    following.status = status_for(following, timezone.now())
    following.save()
    if following.status == Contest.Status.RUNNING:
        announce_started(following)
    return following
