"""One slow receiver never delays another tenant's deliveries: at most
WEBHOOKS_CONCURRENCY_PER_ENDPOINT deliveries to one endpoint hold worker slots at a time, and
one while the endpoint is failing.

Two threads stand for a worker's two slots, taking deliveries in the order they were queued:
three to a receiver that hangs, then one of another tenant. With the bound the other tenant's
delivery arrives while the slow receiver still hangs; without it (the second case) both
slots hang on the slow receiver and the other tenant waits — the failure the bound prevents."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from gamify.webhooks.models import Delivery
from gamify.webhooks.services import delivery_send, endpoint_create
from tests.webhooks.receiver import receiving


def _queued(tenant: Any, endpoint: Any, n: int) -> list[int]:
    now = timezone.now()
    rows = Delivery.objects.bulk_create(
        [
            Delivery(
                tenant=tenant,
                endpoint=endpoint,
                event_type="ping",
                payload={"n": i},
                next_attempt_at=now,
            )
            for i in range(n)
        ]
    )
    return [row.pk for row in rows]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("bound", "failing", "other_waits"),
    [
        (1, False, False),
        (100, False, True),
        # a bound of 2 with 2 slots: the slow receiver takes both, unless it is failing
        (2, False, True),
        (2, True, False),
    ],
)
def test_a_slow_receiver_holds_no_more_slots_than_its_bound(
    tenant, outsider, settings, bound, failing, other_waits
):
    settings.WEBHOOKS_CONCURRENCY_PER_ENDPOINT = bound
    settings.WEBHOOKS_TIMEOUT_SECONDS = 10
    release = threading.Event()
    outcomes: list[str] = []
    with receiving(hold=release, hold_seconds=10) as slow, receiving() as other:
        hanging = endpoint_create(tenant=tenant, url=slow.url, events=["*"]).endpoint
        if failing:  # it timed out before: one slot only until a delivery succeeds
            hanging.failing_since = timezone.now()
            hanging.save(update_fields=["failing_since"])
        fine = endpoint_create(tenant=outsider, url=other.url, events=["*"]).endpoint
        work: queue.Queue[int] = queue.Queue()
        for pk in [*_queued(tenant, hanging, 3), *_queued(outsider, fine, 1)]:
            work.put(pk)

        def slot() -> None:
            try:
                while True:
                    try:
                        pk = work.get_nowait()
                    except queue.Empty:
                        return
                    outcomes.append(delivery_send(delivery_id=pk))
            finally:
                connections.close_all()

        slots = [threading.Thread(target=slot) for _ in range(2)]
        for thread in slots:
            thread.start()
        try:
            arrived = other.arrived.wait(3)
            hanging_now = len(slow.received)
        finally:
            release.set()
            for thread in slots:
                thread.join(30)
    if other_waits:
        assert not arrived, "without the bound both slots hang on the slow receiver"
        assert hanging_now == 2
    else:
        assert arrived, "the other tenant's delivery waited for the slow receiver"
        assert hanging_now == 1
        assert outcomes.count("busy") == 2  # left waiting, for the sweeper or a freed slot
        waiting = Delivery.objects.filter(endpoint=hanging, status="pending").count()
        assert waiting == 2
    assert Delivery.objects.get(endpoint=fine).status == "succeeded"
