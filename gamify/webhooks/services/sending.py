"""Sending: a worker claims a delivery with a lease, posts it, records the attempt, and
schedules its retry or disables its endpoint; the sweeper finds what is due."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.audit.services import audit_record
from core import tenancy
from gamify.activity.services import activity_record
from gamify.webhooks import signing, transport
from gamify.webhooks.models import Attempt, Delivery, Endpoint
from gamify.webhooks.services.endpoints import signing_secrets
from gamify.webhooks.services.outbox import send_on_commit

# How long deliveries are retried, and how long an endpoint may fail before it is disabled.
RETRY_FOR = timedelta(hours=24)
# Backoff: 10 s, 20 s, 40 s … at most an hour between attempts, times a jitter of 50–100 %
# so that receivers coming back are not hit by every delivery at once.
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 3600
SWEEP_BATCH = 500
PURGE_BATCH = 1000
FINISHED = (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED)


def lease_seconds() -> float:
    """A claimed delivery is the worker's this long: longer than a send can take (connect and
    read time-outs, plus slack), so a lease only expires when its worker is gone."""
    return 2 * float(settings.WEBHOOKS_TIMEOUT_SECONDS) + 10


def retry_delay(attempts: int, *, rand: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with jitter: after the n-th failed attempt, 50–100 % of
    min(10 s × 2^(n−1), 1 h)."""
    ceiling = min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)
    return timedelta(seconds=ceiling * (0.5 + 0.5 * rand()))


def endpoint_slots(endpoint: Endpoint) -> int:
    """Deliveries of an endpoint in flight at once: WEBHOOKS_CONCURRENCY_PER_ENDPOINT, and one
    while it is failing (`failing_since`), so a receiver that times out holds a single worker
    slot (bench/webhooks.py: two of a four-process pool delayed the other tenants)."""
    if endpoint.failing_since is not None:
        return 1
    return int(settings.WEBHOOKS_CONCURRENCY_PER_ENDPOINT)


def _claim(delivery_id: int, now: datetime) -> tuple[Delivery | None, str]:
    """Take a delivery's lease if it is due and its endpoint has a free slot.

    The endpoint's row lock serializes claims for one endpoint, so at most
    WEBHOOKS_CONCURRENCY_PER_ENDPOINT leases of it are live at a time: a slow receiver holds
    that many worker slots, never all of them."""
    with transaction.atomic():
        # A task's entry: the delivery's id names its tenant (core/tenancy).
        delivery = Delivery.objects.unscoped().filter(pk=delivery_id).first()
        if delivery is None:
            return None, "gone"
        mine = Endpoint.objects.for_tenant(delivery.tenant_id)
        endpoint = mine.select_for_update().filter(pk=delivery.endpoint_id).first()
        if endpoint is None:
            return None, "gone"
        delivery = (
            Delivery.objects.for_tenant(delivery.tenant_id).select_for_update().get(pk=delivery_id)
        )
        due = (delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at <= now) or (
            delivery.status == Delivery.Status.SENDING
            and delivery.locked_until is not None
            and delivery.locked_until <= now
        )
        if not due:
            return None, "not-due" if delivery.status == Delivery.Status.PENDING else "skipped"
        if not endpoint.active:
            delivery.status = Delivery.Status.FAILED
            delivery.locked_until = None
            delivery.save(update_fields=["status", "locked_until"])
            return None, "endpoint-inactive"
        leased = Delivery.objects.filter(
            tenant_id=endpoint.tenant_id,
            endpoint_id=endpoint.pk,
            status=Delivery.Status.SENDING,
            locked_until__gt=now,
        ).count()
        if leased >= endpoint_slots(endpoint):
            return None, "busy"
        delivery.status = Delivery.Status.SENDING
        delivery.locked_until = now + timedelta(seconds=lease_seconds())
        delivery.attempts = F("attempts") + 1
        delivery.first_attempt_at = delivery.first_attempt_at or now
        delivery.save(update_fields=["status", "locked_until", "attempts", "first_attempt_at"])
        delivery.refresh_from_db()
        delivery.endpoint = endpoint
        return delivery, "claimed"


def delivery_body(delivery: Delivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def delivery_headers(delivery: Delivery, *, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": "Gamify-Webhooks/1",
        "X-Gamify-Event": delivery.event_type,
        "X-Gamify-Delivery": str(delivery.uuid),
        "X-Gamify-Timestamp": str(timestamp),
        "X-Gamify-Signature": signing.signature_header(
            signing_secrets(delivery.endpoint, now=now), timestamp, body
        ),
    }


def delivery_send(*, delivery_id: int) -> str:
    """Claim, post and record one delivery. Returns the outcome: "succeeded", "retry",
    "failed" (retried for 24 h), "busy" (endpoint at its concurrency bound), "not-due",
    "skipped" (done or leased by another worker), "endpoint-inactive", "gone"."""
    started = timezone.now()
    delivery, outcome = _claim(delivery_id, started)
    if delivery is None:
        return outcome
    with tenancy.tenant_scope(delivery.tenant_id):
        body = delivery_body(delivery)
        answer = transport.post(
            delivery.endpoint.url,
            body=body,
            headers=delivery_headers(delivery, body=body, now=started),
            timeout=float(settings.WEBHOOKS_TIMEOUT_SECONDS),
        )
        return _record(delivery, answer, started)


def _record(delivery: Delivery, answer: transport.Answer, started: datetime) -> str:
    now = timezone.now()
    with transaction.atomic():
        Attempt.objects.create(
            delivery_id=delivery.pk,
            started_at=started,
            duration_ms=answer.duration_ms,
            status_code=answer.status_code,
            response_excerpt=answer.excerpt,
            error=answer.error,
        )
        endpoint = Endpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        current = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if answer.ok:
            current.status = Delivery.Status.SUCCEEDED
            current.delivered_at = now
            current.locked_until = None
            current.save(update_fields=["status", "delivered_at", "locked_until"])
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since"])
            _hand_on_slot(endpoint.pk)
            return "succeeded"
        if current.status == Delivery.Status.SUCCEEDED:
            return "failed-after-success"  # another worker's attempt got through meanwhile
        if endpoint.failing_since is None:
            endpoint.failing_since = started
            endpoint.save(update_fields=["failing_since"])
        first = current.first_attempt_at or started
        if now - first >= RETRY_FOR:
            current.status = Delivery.Status.FAILED
            outcome = "failed"
        else:
            current.status = Delivery.Status.PENDING
            current.next_attempt_at = now + retry_delay(current.attempts)
            outcome = "retry"
        current.locked_until = None
        current.save(update_fields=["status", "next_attempt_at", "locked_until"])
        if endpoint.active and now - endpoint.failing_since >= RETRY_FOR:
            endpoint_disable(endpoint=endpoint, now=now, last_error=_describe(answer))
            return "failed" if outcome == "failed" else "disabled"
        _hand_on_slot(endpoint.pk)
        return outcome


def _describe(answer: transport.Answer) -> str:
    return f"HTTP {answer.status_code}" if answer.status_code is not None else answer.error


def _hand_on_slot(endpoint_id: int) -> None:
    """A worker that finishes with an endpoint sends its next due delivery, so a backlog held
    back by the concurrency bound drains at once rather than at the sweeper's pace. (In-process
    tasks sent inline, WEBHOOKS_IN_PROCESS_THREADS=0, send each delivery when it is written, one
    at a time: nothing is held back there.)"""
    if current_app.conf.task_always_eager and not settings.WEBHOOKS_IN_PROCESS_THREADS:
        return
    waiting = list(
        Delivery.objects.filter(
            endpoint_id=endpoint_id,
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=timezone.now(),
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:1]
    )
    send_on_commit(waiting)


def endpoint_disable(*, endpoint: Endpoint, now: datetime, last_error: str) -> None:
    """An endpoint failing for 24 h stops: its waiting deliveries are marked failed (they can
    be redelivered), and a `webhook.disabled` activity tells the tenant (and its other
    endpoints)."""
    since = endpoint.failing_since or now
    reason = f"Failing since {since.isoformat()} (last: {last_error})"[:300]
    before = {"active": endpoint.active, "disabled_reason": endpoint.disabled_reason}
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason"])
    audit_record(
        tenant=endpoint.tenant_id,
        action="update",
        object_type="webhook",
        object_id=endpoint.pk,
        object_repr=endpoint.url,
        before=before,
        after={"active": False, "disabled_reason": reason},
    )
    Delivery.objects.filter(
        tenant_id=endpoint.tenant_id, endpoint_id=endpoint.pk, status=Delivery.Status.PENDING
    ).update(status=Delivery.Status.FAILED)
    activity_record(
        tenant=endpoint.tenant_id,
        type="webhook.disabled",
        key=f"webhook.disabled:{endpoint.pk}:{now.isoformat()}",
        data={
            "webhook": endpoint.pk,
            "url": endpoint.url,
            "failing_since": since.isoformat(),
            "reason": reason,
        },
        occurred_at=now,
    )


def deliveries_sweep(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> list[int]:
    """The deliveries to send now: retries that are due, deliveries whose task was lost
    (a broker outage at commit) and leases of a worker that died. Oldest first."""
    now = now or timezone.now()
    due = Delivery.objects.unscoped().filter(  # every tenant's: the beat's sweep
        Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        | Q(status=Delivery.Status.SENDING, locked_until__lte=now)
    )
    return list(due.order_by("next_attempt_at").values_list("id", flat=True)[:limit])


def deliveries_purge(*, now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete finished deliveries (and their attempts) that finished more than
    WEBHOOKS_RETENTION_DAYS ago, `batch` at a time: per batch one SELECT of ids (rows a
    redelivery holds are skipped) and one DELETE of attempts and one of deliveries by id, each
    batch its own short transaction. Pending and in-flight deliveries are never touched.
    Returns how many deliveries went."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WEBHOOKS_RETENTION_DAYS)
    # Finished: the later of created, first attempt (a redelivery resets it) and success.
    old = (
        Delivery.objects.unscoped()
        .filter(status__in=FINISHED, created_at__lt=cutoff)
        .filter(
            Q(first_attempt_at__isnull=True) | Q(first_attempt_at__lt=cutoff),
            Q(delivered_at__isnull=True) | Q(delivered_at__lt=cutoff),
        )
    )
    purged = 0
    while True:
        with transaction.atomic():
            ids = list(
                old.select_for_update(skip_locked=True)
                .order_by("id")
                .values_list("id", flat=True)[:batch]
            )
            if not ids:
                return purged
            # Django deletes the attempts with one DELETE … WHERE delivery_id IN, then the
            # deliveries with one DELETE … WHERE id IN (it reads only their ids first).
            _, gone = (
                Delivery.objects.unscoped()
                .filter(pk__in=ids, status__in=FINISHED)
                .only("pk")
                .delete()
            )
            purged += gone.get(Delivery._meta.label, 0)
        if len(ids) < batch:
            return purged
