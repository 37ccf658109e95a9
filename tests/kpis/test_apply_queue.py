"""At most one apply task per tenant waits in the broker's queue (a Redis list), however many
batches arrive: a run applies every pending batch, so more queued behind it would find
nothing, and under sustained load they piled up (the soak's Redis grew with them)."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from config.celery import app as celery_app
from kpis import ingest
from kpis.ingest import batches_apply, changes_announce, events_ingest
from kpis.models import IngestBatch
from kpis.tasks import apply_pending

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="the broker's queue lives in Redis"),
]


def call(n: int) -> dict:
    return {
        "event_id": f"c{n}", "type": "interaction", "occurred_at": "2026-11-20T09:15:00+08:00",
        "agent": "a1", "answered": True, "talk_seconds": 60,
    }  # fmt: skip


@pytest.fixture
def broker():
    """The real broker: tasks go to Redis instead of running in-process. Yields a function
    returning the messages this test added to the `ingest` queue (removed afterwards)."""
    celery_app.conf.task_always_eager = False  # the autouse fixture sets it back per test
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    before = set(client.lrange("ingest", 0, -1))

    def added() -> list[bytes]:
        return [m for m in client.lrange("ingest", 0, -1) if m not in before]

    try:
        yield added
    finally:
        celery_app.conf.task_always_eager = True
        for message in added():
            client.lrem("ingest", 0, message)


def test_twenty_batches_queue_one_task_until_it_starts(tenant, agent, broker):
    for n in range(20):
        events_ingest(tenant=tenant, items=[call(n)])
    assert IngestBatch.objects.filter(tenant=tenant, applied_at__isnull=True).count() == 20
    assert len(broker()) == 1
    # The task starts (here, in-process): the next batch needs a task of its own.
    assert apply_pending(tenant.pk) == "applied 20 batches"
    events_ingest(tenant=tenant, items=[call(99)])
    assert len(broker()) == 2
    assert batches_apply(tenant_id=tenant.pk) == "applied 1 batches"


def test_a_worker_run_stops_after_its_budget_and_queues_the_next(
    tenant, agent, broker, monkeypatch
):
    """Under sustained ingestion a run would never end (there is always another batch) and held
    its worker from other tenants until Celery's soft time limit killed it mid-group."""
    events_ingest(tenant=tenant, items=[call(1)])
    changes_announce(tenant=tenant, everything=True)  # a rule change: a group of its own
    events_ingest(tenant=tenant, items=[call(2)])
    assert len(broker()) == 1
    monkeypatch.setattr(ingest, "APPLY_RUN_SECONDS", 0)
    assert apply_pending(tenant.pk) == "applied 1 batches, more pending: run queued"
    assert IngestBatch.objects.filter(tenant=tenant, applied_at__isnull=True).count() == 2
    assert len(broker()) == 2  # the next run, for the other tenants' tasks to go in between
    # The queued run takes the rest; an in-process run (no budget) goes on to the end.
    assert batches_apply(tenant_id=tenant.pk) == "applied 2 batches"
