"""The outbox: deliveries written in the transaction of their activity, pings and
redeliveries, each sent once its transaction commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Agent, Team, Tenant
from gamify.activity.models import Activity
from gamify.webhooks.models import PING, Delivery, Endpoint


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
    agents = dict(
        Agent.objects.filter(tenant_id=tenant_id, pk__in=agent_ids).values_list("id", "external_id")
    )
    teams = dict(
        Team.objects.filter(tenant_id=tenant_id, pk__in=team_ids).values_list("id", "external_id")
    )
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
                tenant_id=tenant_id, activity_id__in=[a.pk for a in activities], created_at__gte=now
            ).values_list("id", flat=True)
        )
    send_on_commit(ids)
    return ids


def send_on_commit(ids: Iterable[int]) -> None:
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
        send_on_commit([delivery.pk])
    return delivery


def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Send a delivery again (same X-Gamify-Delivery id), with a fresh 24 h of retries."""
    with transaction.atomic():
        Delivery.objects.filter(tenant_id=delivery.tenant_id, pk=delivery.pk).update(
            status=Delivery.Status.PENDING,
            next_attempt_at=timezone.now(),
            first_attempt_at=None,
            locked_until=None,
        )
        send_on_commit([delivery.pk])
    delivery.refresh_from_db()
    return delivery
