"""Applying the outbox downstream: what stored batches touched is announced through
`kpis.signals.buckets_changed` (gamify recomputes points, badges, boards and contests from
it), then the batches are marked applied. One run per tenant at a time; a batch that fails is
set aside with its error and retried later, never holding back the batches behind it.
Changes that bring no events (a rule, a badge, an agent's move) take the same path
(`changes_announce`).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Min, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Tenant
from kpis import buckets, metrics, tasks  # tasks: a module, its tasks call back in here
from kpis.models import IngestBatch
from kpis.models import InteractionSettings as InteractionSettingsRow
from kpis.signals import buckets_changed

log = logging.getLogger(__name__)


# A task for the tenant is in the broker's queue and has not started: no other is needed.
QUEUED_SECONDS = 60


def _queued_key(tenant_id: int) -> str:
    return f"kpis:apply-queued:{tenant_id}"


def enqueue_apply(tenant_id: int) -> None:
    """Enqueue downstream application once the transaction commits — unless a task for the
    tenant is already queued and not yet started: it will apply this batch too (a run takes
    every pending batch). One task per request used to pile up in the broker's queue under
    sustained load, each finding nothing to do (bench/soak.py: 86 → 238 in four minutes).

    `robust`: the events are stored whatever happens to the broker; if it is down the request
    still succeeds and the sweeper enqueues the batch later (and so it does if the queued
    task is lost: the mark only lives `QUEUED_SECONDS`).
    """

    def send() -> None:
        key = _queued_key(tenant_id)
        try:
            if cache.add(key, 1, QUEUED_SECONDS) is False:
                return  # one is queued (None: the cache is unreachable, enqueue anyway)
            tasks.apply_pending.delay(tenant_id)
        except Exception:
            metrics.ENQUEUE_FAILURES.inc()
            log.warning("Could not enqueue apply_pending(%s); the sweeper will", tenant_id)
            cache.delete(key)

    transaction.on_commit(send, robust=True)


def apply_started(tenant_id: int) -> None:
    """The queued task has started: from now on a new batch needs a task of its own (this
    run may read the pending batches before that batch commits)."""
    cache.delete(_queued_key(tenant_id))


APPLY_CHUNK = 200
# A worker's run stops taking new groups after this long and queues the tenant's next run:
# under sustained ingestion there is always another batch, and a run that never ends holds
# its worker process from every other tenant until Celery's soft time limit kills it in the
# middle of a group (bench/soak.py: 300 s, then SoftTimeLimitExceeded and the group redone).
APPLY_RUN_SECONDS = 30.0
RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
# Errors of the infrastructure, not of a batch: the whole run fails and is tried again (the
# task acks late; the sweeper re-enqueues), and no batch is blamed for them.
NOT_THE_BATCH: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    SoftTimeLimitExceeded,
)


@dataclass(frozen=True)
class PendingBatch:
    id: int
    touched: dict[str, dict[str, list[str]]]
    everything: bool
    attempts: int


def changes_announce(
    *,
    tenant: Tenant,
    agent_days: Mapping[int, Iterable[date]] | None = None,
    everything: bool = False,
) -> None:
    """Have everything derived from the buckets follow a change that brought no events.

    A point rule, a badge or a KPI's minimum volume changed (`everything`), or a manual
    adjustment or an agent's move changed some agents' days: the change is written to the
    outbox in the caller's transaction, so it reaches points, live boards and running contests
    by the one path events take, under the apply lock, and is never lost.
    """
    touched = {
        "agents": {
            str(agent): sorted({d.isoformat() for d in days})
            for agent, days in (agent_days or {}).items()
        },
        "teams": {},
    }
    IngestBatch.objects.create(
        tenant=tenant,
        source=IngestBatch.Source.CHANGE,
        created_at=timezone.now(),
        touched=touched,
        everything=everything,
    )
    enqueue_apply(tenant.pk)


def batches_apply(*, tenant_id: int, budget_seconds: float | None = None) -> str:
    """Announce what pending batches touched, then mark them applied. Idempotent.

    One run per tenant at a time; a run takes every pending batch, so under load many batches
    are applied by one run. A run that finds another in progress returns at once instead of
    holding its worker while it waits its turn (the worker has populate tasks, webhooks and
    other tenants to serve): the run in progress applies its batches, and once it lets go it
    looks again, for batches committed while it was finishing.
    A batch that cannot be applied is found by halving the group that failed, set aside with
    its error and retried later: it never holds back the batches behind it.

    Each group commits in its own transaction, so the tenant's apply lock (which requests
    such as adjustments wait on) is held for one group at a time — one recompute of
    everything at most — not for a whole chunk of them.

    With `budget_seconds` (the worker's task: APPLY_RUN_SECONDS), no group is begun after that
    long: the run queues the tenant's next one and returns, so other tenants' tasks get the
    worker in between.
    """
    applied = failed = 0
    cut_at = None if budget_seconds is None else time.monotonic() + budget_seconds
    more = False
    ran = False
    while True:
        with buckets.session_lock_tried(buckets.APPLY_RUN_LOCK, tenant_id) as mine:
            if not mine:
                break
            ran = True
            run = _groups_apply(tenant_id, cut_at)
            if run is None:
                return "gone"
            applied, failed, more = applied + run[0], failed + run[1], run[2]
        if more or not _due(tenant_id, timezone.now()).exists():
            break
    if not ran:
        return "another run is applying"
    outcome = f"applied {applied} batches" if applied else "nothing pending"
    if failed:
        outcome = f"{outcome}, {failed} failed"
    if more:
        enqueue_apply(tenant_id)
        outcome = f"{outcome}, more pending: run queued"
    return outcome


def _due(tenant_id: int, now: datetime) -> QuerySet[IngestBatch]:
    """The tenant's batches to apply now: not applied, and not set aside until later."""
    return (
        IngestBatch.objects.for_tenant(tenant_id)
        .filter(applied_at__isnull=True)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
    )


def _groups_apply(tenant_id: int, cut_at: float | None) -> tuple[int, int, bool] | None:
    """Apply due batches group by group until none is left or `cut_at` has passed: (applied,
    failed, whether the budget ran out first), or None when the tenant is gone."""
    applied = failed = 0
    while True:
        with transaction.atomic():
            buckets.advisory_lock(buckets.APPLY_LOCK, tenant_id)
            now = timezone.now()
            batches = [
                PendingBatch(*row)
                for row in _due(tenant_id, now)
                .order_by("id")
                .values_list("id", "touched", "everything", "attempts")[:APPLY_CHUNK]
            ]
            if not batches:
                return applied, failed, False
            tenant = Tenant.objects.filter(pk=tenant_id).first()
            if tenant is None:
                return None
            group = next(groups(batches))
            failures = _apply_isolated(tenant, group, now)
            applied += len(group) - len(failures)
            failed += len(failures)
            for batch, exc in failures:
                _set_aside(tenant, batch, exc, now)
        if cut_at is not None and time.monotonic() >= cut_at:
            return applied, failed, True


def groups(batches: list[PendingBatch]) -> Iterator[list[PendingBatch]]:
    """Runs of consecutive batches applied together. Recomputes of everything go apart from
    events, so that the events before and after them are still judged as events (late
    adjustments); consecutive recomputes go together, as one: ten rule changes in a row
    cost one recompute, not ten (each recomputes the whole game from the buckets)."""
    run: list[PendingBatch] = []
    for batch in batches:
        if run and batch.everything != run[-1].everything:
            yield run
            run = []
        run.append(batch)
    if run:
        yield run


def _apply_isolated(
    tenant: Tenant, group: list[PendingBatch], now: datetime
) -> list[tuple[PendingBatch, Exception]]:
    """Apply a group in a savepoint; when it fails, each half on its own, down to the batches
    that fail alone (returned with their errors)."""
    try:
        with transaction.atomic():
            _announce(tenant, group)
            done = IngestBatch.objects.for_tenant(tenant).filter(pk__any=[b.id for b in group])
            if any(b.everything for b in group):
                # Everything was recomputed: batches set aside before it are settled too.
                done = IngestBatch.objects.for_tenant(tenant).filter(
                    Q(pk__any=[b.id for b in group])
                    | Q(pk__lt=group[-1].id, applied_at__isnull=True, failed_at__isnull=False)
                )
            done.update(applied_at=now, retry_at=None)
        return []
    except NOT_THE_BATCH:
        raise
    except Exception as exc:
        if len(group) == 1:
            return [(group[0], exc)]
        # Logged: a failure that the halves then get past (a transient one) left no trace.
        log.warning(
            "Applying %s batches of tenant %s together failed; each half on its own",
            len(group), tenant.slug, exc_info=exc,
        )  # fmt: skip
        middle = len(group) // 2
        return _apply_isolated(tenant, group[:middle], now) + _apply_isolated(
            tenant, group[middle:], now
        )


def _announce(tenant: Tenant, group: list[PendingBatch]) -> None:
    agent_days: dict[int, set[date]] = defaultdict(set)
    team_days: dict[int, set[date]] = defaultdict(set)
    for batch in group:
        for target, key in ((agent_days, "agents"), (team_days, "teams")):
            for subject, days in (batch.touched or {}).get(key, {}).items():
                target[int(subject)].update(date.fromisoformat(d) for d in days)
    buckets_changed.send(
        sender=IngestBatch,
        tenant=tenant,
        agent_days=dict(agent_days),
        team_days=dict(team_days),
        everything=any(b.everything for b in group),
    )


def _set_aside(tenant: Tenant, batch: PendingBatch, exc: Exception, now: datetime) -> None:
    attempts = batch.attempts + 1
    wait = min(RETRY_FIRST * 2 ** min(attempts - 1, 20), RETRY_MAX)
    log.error(
        "Batch %s of tenant %s could not be applied (attempt %s); retrying from %s",
        batch.id, tenant.slug, attempts, now + wait, exc_info=exc,
    )  # fmt: skip
    metrics.APPLY_FAILURES.inc()
    IngestBatch.objects.filter(tenant_id=tenant.pk, pk=batch.id).update(
        failed_at=now,
        attempts=attempts,
        error=f"{type(exc).__name__}: {exc}"[:ERROR_CHARS],
        retry_at=now + wait,
    )


ERROR_CHARS = 500


def failed_batches_retry(*, tenant: Tenant) -> int:
    """Try the tenant's set-aside batches again at the next run (after a fix: a void, a
    rebuild). Returns how many."""
    return (
        IngestBatch.objects.for_tenant(tenant)
        .filter(applied_at__isnull=True, failed_at__isnull=False)
        .update(retry_at=timezone.now())
    )


def ingest_status(*, tenant: Tenant) -> dict[str, Any]:
    """What is not yet reflected downstream: events pending, a recompute owed, and batches set
    aside after failing (with their errors)."""
    unapplied = IngestBatch.objects.for_tenant(tenant).filter(applied_at__isnull=True)
    pending = unapplied.filter(failed_at__isnull=True).aggregate(
        events=Sum("accepted"), oldest=Min("created_at")
    )
    failed = list(
        unapplied.filter(failed_at__isnull=False)
        .order_by("-id")
        .values("id", "accepted", "failed_at", "attempts", "retry_at", "error")[:FAILED_SHOWN]
    )
    recomputing = (
        unapplied.filter(failed_at__isnull=True, everything=True).exists()
        or InteractionSettingsRow.objects.filter(
            tenant=tenant, recompute_requested_at__isnull=False
        ).exists()
    )
    return {
        "pending": pending["events"] or 0,
        "oldest_pending_at": pending["oldest"],
        "recomputing": recomputing,
        "failed": unapplied.filter(failed_at__isnull=False).aggregate(n=Sum("accepted"))["n"] or 0,
        "failed_batches": [
            {
                "id": row["id"],
                "events": row["accepted"],
                "failed_at": row["failed_at"],
                "attempts": row["attempts"],
                "retry_at": row["retry_at"],
                "error": row["error"],
            }
            for row in failed
        ],
    }


FAILED_SHOWN = 20
