"""With in-process tasks (the embedded default), deliveries are sent by background threads:
an API call whose activity goes to a receiver that takes 3 s returns at once, and the delivery
still arrives, signed, and is recorded as succeeded."""

from __future__ import annotations

import threading
import time

import pytest

from gamify.webhooks import background
from gamify.webhooks.models import Delivery
from tests.webhooks.receiver import receiving
from tests.webhooks.support import subscribe

pytestmark = pytest.mark.django_db(transaction=True)

RECEIVER_SECONDS = 3


def test_a_slow_receiver_does_not_slow_the_api_call(api, agent, settings):
    settings.WEBHOOKS_IN_PROCESS_THREADS = 2
    with receiving(hold=threading.Event(), hold_seconds=RECEIVER_SECONDS) as receiver:
        hook = subscribe(api, receiver.url, ["wallet.granted"])
        started = time.monotonic()
        response = api.post(
            "/api/v1/agents/a1/wallet/grants", {"amount": 5, "reason": "Kudos"}, format="json"
        )
        took = time.monotonic() - started
        assert response.status_code == 201, response.content
        assert took < 1.5, f"the API call waited {took:.1f} s on the receiver"
        assert receiver.arrived.wait(10)
        assert background.wait_idle(15)
        delivery = Delivery.objects.get(endpoint_id=hook["id"])
        assert delivery.status == "succeeded"
        [attempt] = delivery.attempt_set.all()
        assert attempt.status_code == 200
        assert attempt.duration_ms >= RECEIVER_SECONDS * 1000 - 100  # it did wait, elsewhere
        assert [r.headers["X-Gamify-Delivery"] for r in receiver.received] == [str(delivery.uuid)]


def test_inline_sending_waits_for_the_receiver(api, agent, settings):
    """The contrast (WEBHOOKS_IN_PROCESS_THREADS=0, the old behaviour): the call waits."""
    settings.WEBHOOKS_IN_PROCESS_THREADS = 0
    with receiving(hold=threading.Event(), hold_seconds=RECEIVER_SECONDS) as receiver:
        subscribe(api, receiver.url, ["wallet.granted"])
        started = time.monotonic()
        response = api.post(
            "/api/v1/agents/a1/wallet/grants", {"amount": 5, "reason": "Kudos"}, format="json"
        )
        assert response.status_code == 201
        assert time.monotonic() - started >= RECEIVER_SECONDS - 0.1
        assert receiver.received
