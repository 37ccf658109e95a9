"""Webhook writes: endpoints and their secrets, the outbox, sending, retrying, sweeping.

The flow: `activities_record` writes activity rows and, in the same transaction,
`deliveries_create_for` writes one Delivery per subscribed active endpoint (the outbox) and
asks, on commit, for each to be sent (`webhook_deliver`). A worker claims a delivery with a
lease (`delivery_send`), posts it outside any transaction, records the Attempt and either marks
it succeeded or schedules its retry. Retries, deliveries whose task was lost with the broker
and leases of a worker that died are picked up by `deliveries_sweep` (beat, every 30 s).
Delivery is at least once: a receiver de-duplicates on X-Gamify-Delivery.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Agent, Team, Tenant
from core.errors import InvalidInputError
from gamify.activity.models import ACTIVITY_TYPES, Activity
from gamify.activity.services import activity_record
from gamify.webhooks import guard, signing, transport
from gamify.webhooks.models import ALL_EVENTS, PING, Attempt, Delivery, Endpoint

# How long deliveries are retried, and how long an endpoint may fail before it is disabled.
RETRY_FOR = timedelta(hours=24)
# Backoff: 10 s, 20 s, 40 s … at most an hour between attempts, times a jitter of 50–100 %
# so that receivers coming back are not hit by every delivery at once.
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 3600
ROTATION_GRACE = timedelta(hours=24)
SWEEP_BATCH = 500
EVENT_CHOICES = (*ACTIVITY_TYPES, ALL_EVENTS)
MAX_EVENTS = len(EVENT_CHOICES)


def lease_seconds() -> float:
    """A claimed delivery is the worker's this long: longer than a send can take (connect and
    read time-outs, plus slack), so a lease only expires when its worker is gone."""
    return 2 * float(settings.WEBHOOKS_TIMEOUT_SECONDS) + 10


# --- endpoints ------------------------------------------------------------------------------
@dataclass(frozen=True)
class EndpointWithSecret:
    endpoint: Endpoint
    secret: str  # shown once


def clean_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError({"url": "Give the receiver's URL."})
    url = url.strip()
    if len(url) > 2000:
        raise InvalidInputError({"url": "At most 2000 characters."})
    if error := guard.url_error(url):
        raise InvalidInputError({"url": error})
    return url


def clean_events(events: Any) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise InvalidInputError({"events": f'Give a list of event types, or ["{ALL_EVENTS}"].'})
    unknown = [e for e in events if not isinstance(e, str) or e not in EVENT_CHOICES]
    if unknown:
        raise InvalidInputError({"events": f"Unknown event types: {', '.join(map(str, unknown))}."})
    return sorted(set(events))


def endpoint_create(
    *, tenant: Tenant, url: str, events: Sequence[str], active: bool = True, description: str = ""
) -> EndpointWithSecret:
    """Subscribe a receiver. The secret is returned here and never again."""
    salt = signing.new_salt()
    secret = signing.secret_for(salt)
    endpoint = Endpoint.objects.create(
        tenant=tenant,
        url=clean_url(url),
        events=clean_events(events),
        active=bool(active),
        description=description.strip(),
        secret_salt=salt,
        secret_prefix=secret[:12],
    )
    return EndpointWithSecret(endpoint, secret)


def endpoint_update(*, endpoint: Endpoint, changes: Mapping[str, Any]) -> Endpoint:
    """Change url, events, active or description. Turning a disabled endpoint back on
    clears its failure record (pending deliveries are not resent: redeliver those)."""
    if "url" in changes:
        endpoint.url = clean_url(changes["url"])
    if "events" in changes:
        endpoint.events = clean_events(changes["events"])
    if "description" in changes:
        endpoint.description = str(changes["description"]).strip()
    if "active" in changes:
        active = bool(changes["active"])
        if active and not endpoint.active:
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
            endpoint.failing_since = None
        endpoint.active = active
    endpoint.save()
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: Endpoint) -> EndpointWithSecret:
    """A new secret, returned once; the previous one keeps signing for 24 h beside it, so a
    receiver can switch without losing a delivery."""
    salt = signing.new_salt()
    secret = signing.secret_for(salt)
    endpoint.previous_secret_salt = endpoint.secret_salt
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
    endpoint.secret_salt = salt
    endpoint.secret_prefix = secret[:12]
    endpoint.save(
        update_fields=[
            "previous_secret_salt",
            "previous_secret_expires_at",
            "secret_salt",
            "secret_prefix",
        ]
    )
    return EndpointWithSecret(endpoint, secret)


def signing_secrets(endpoint: Endpoint, *, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, then a rotated-out one
    still in its grace window."""
    now = now or timezone.now()
    found = [signing.secret_for(endpoint.secret_salt)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_salt and expires is not None and expires > now:
        found.append(signing.secret_for(endpoint.previous_secret_salt))
    return found


# --- the outbox -----------------------------------------------------------------------------
def activity_payload(
    activity: Activity, *, tenant_slug: str, agents: Mapping[int, str], teams: Mapping[int, str]
) -> dict[str, Any]:
    """The body of a delivery: the activity as GET /activity shows it, and the tenant."""
    return {
        "id": activity.pk,
        "type": activity.type,
        "tenant": tenant_slug,
        "agent": agents.get(activity.agent_id) if activity.agent_id else None,
        "team": teams.get(activity.team_id) if activity.team_id else None,
        "occurred_at": activity.occurred_at.isoformat(),
        "data": activity.data,
    }


def deliveries_create_for(*, tenant_id: int, activities: Sequence[Activity]) -> list[int]:
    """Write the deliveries of freshly recorded activities, in the caller's transaction, and
    have them sent once it commits. One query when the tenant has no active endpoint."""
    endpoints = list(Endpoint.objects.filter(tenant_id=tenant_id, active=True))
    if not endpoints or not activities:
        return []
    pairs = [(e, a) for a in activities for e in endpoints if e.subscribes_to(a.type)]
    if not pairs:
        return []
    agent_ids = {a.agent_id for _, a in pairs if a.agent_id}
    team_ids = {a.team_id for _, a in pairs if a.team_id}
    agents = dict(Agent.objects.filter(pk__in=agent_ids).values_list("id", "external_id"))
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("id", "external_id"))
    slug = Tenant.objects.filter(pk=tenant_id).values_list("slug", flat=True).get()
    payloads = {
        a.pk: activity_payload(a, tenant_slug=slug, agents=agents, teams=teams) for a in activities
    }
    now = timezone.now()
    created = Delivery.objects.bulk_create(
        [
            Delivery(
                tenant_id=tenant_id,
                endpoint=endpoint,
                activity_id=activity.pk,
                event_type=activity.type,
                payload=payloads[activity.pk],
                next_attempt_at=now,
            )
            for endpoint, activity in pairs
        ]
    )
    ids = [d.pk for d in created if d.pk is not None]
    if not ids:
        # A backend that does not return ids from bulk inserts: find them (PostgreSQL and
        # SQLite 3.35+ both return them, so this is a safety net, not a path).
        ids = list(
            Delivery.objects.filter(
                activity_id__in=[a.pk for a in activities], created_at__gte=now
            ).values_list("id", flat=True)
        )
    _send_on_commit(ids)
    return ids


def _send_on_commit(ids: Iterable[int]) -> None:
    # tasks.py imports this module: importing it at load time would be a cycle.
    from gamify.webhooks.tasks import enqueue_deliveries

    ids = list(ids)
    if ids:
        # robust: a broker outage must not fail the request; the sweeper sends them later.
        transaction.on_commit(lambda: enqueue_deliveries(ids), robust=True)


def endpoint_ping(*, endpoint: Endpoint) -> Delivery:
    """POST /webhooks/{id}/test: a `ping` delivery, sent like any other."""
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.create(
            tenant_id=endpoint.tenant_id,
            endpoint=endpoint,
            event_type=PING,
            payload={
                "id": None,
                "type": PING,
                "tenant": endpoint.tenant.slug,
                "agent": None,
                "team": None,
                "occurred_at": now.isoformat(),
                "data": {"webhook": endpoint.pk, "url": endpoint.url},
            },
            next_attempt_at=now,
        )
        _send_on_commit([delivery.pk])
    return delivery


def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Send a delivery again (same X-Gamify-Delivery id), with a fresh 24 h of retries."""
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.PENDING,
            next_attempt_at=timezone.now(),
            first_attempt_at=None,
            locked_until=None,
        )
        _send_on_commit([delivery.pk])
    delivery.refresh_from_db()
    return delivery


# --- sending --------------------------------------------------------------------------------
def retry_delay(attempts: int, *, rand: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with jitter: after the n-th failed attempt, 50–100 % of
    min(10 s × 2^(n−1), 1 h)."""
    ceiling = min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)
    return timedelta(seconds=ceiling * (0.5 + 0.5 * rand()))


def _claim(delivery_id: int, now: datetime) -> tuple[Delivery | None, str]:
    """Take a delivery's lease if it is due and its endpoint has a free slot.

    The endpoint's row lock serializes claims for one endpoint, so at most
    WEBHOOKS_CONCURRENCY_PER_ENDPOINT leases of it are live at a time: a slow receiver holds
    that many worker slots, never all of them."""
    with transaction.atomic():
        delivery = Delivery.objects.filter(pk=delivery_id).first()
        if delivery is None:
            return None, "gone"
        endpoint = Endpoint.objects.select_for_update().filter(pk=delivery.endpoint_id).first()
        if endpoint is None:
            return None, "gone"
        delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
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
            endpoint_id=endpoint.pk, status=Delivery.Status.SENDING, locked_until__gt=now
        ).count()
        if leased >= settings.WEBHOOKS_CONCURRENCY_PER_ENDPOINT:
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
    tasks send every delivery when it is written: nothing is held back there.)"""
    if current_app.conf.task_always_eager:
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
    _send_on_commit(waiting)


def endpoint_disable(*, endpoint: Endpoint, now: datetime, last_error: str) -> None:
    """An endpoint failing for 24 h stops: its waiting deliveries are marked failed (they can
    be redelivered), and a `webhook.disabled` activity tells the tenant (and its other
    endpoints)."""
    since = endpoint.failing_since or now
    reason = f"Failing since {since.isoformat()} (last: {last_error})"[:300]
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason"])
    Delivery.objects.filter(endpoint_id=endpoint.pk, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED
    )
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
    due = Delivery.objects.filter(
        Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        | Q(status=Delivery.Status.SENDING, locked_until__lte=now)
    )
    return list(due.order_by("next_attempt_at").values_list("id", flat=True)[:limit])
