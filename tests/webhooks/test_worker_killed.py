"""A real `celery -A config worker` SIGKILLed in the middle of a delivery: the delivery is sent
again after the restart (at least once, with the same X-Gamify-Delivery), picked up by the
sweeper once the dead worker's lease has expired."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.services import tenant_create
from bench.stack import Redis, Stack, wait_until
from gamify.webhooks.models import Delivery
from gamify.webhooks.services import endpoint_create
from tests.integration.live import database_url
from tests.webhooks.receiver import receiving
from tests.webhooks.support import readme_verify


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_delivery_survives_its_worker_being_killed(tmp_path):
    tenant = tenant_create(name="Killed", timezone_name="UTC", slug="killed")
    release = threading.Event()
    redis = Redis(tmp_path)
    redis.start()
    stack = Stack(
        database_url(),
        redis,
        SECRET_KEY=settings.SECRET_KEY,  # the same key derives the same signing secret
        WEBHOOKS_ALLOW_PRIVATE_NETWORKS="true",
        WEBHOOKS_ALLOW_HTTP="true",
        WEBHOOKS_TIMEOUT_SECONDS="2",
    )
    try:
        with receiving(hold=release, hold_seconds=60) as receiver:
            hook = endpoint_create(tenant=tenant, url=receiver.url, events=["level.up"])
            first = stack.start_worker(queues=None)  # the plain command: every queue
            # The activity is recorded by another process, whose commit enqueues the delivery
            # on the broker, as in production.
            stack.manage(
                "shell",
                "-c",
                "from gamify.activity.services import activity_record; "
                f"activity_record(tenant={tenant.pk}, type='level.up', key='level:1', "
                "data={'level': 2})",
            )
            assert receiver.arrived.wait(90), "the worker never sent the delivery"
            first.send_signal(signal.SIGKILL)  # in the middle: the receiver has not answered
            first.wait(10)
            delivery = Delivery.objects.get(endpoint=hook.endpoint)
            assert delivery.status == "sending"
            assert delivery.attempts == 1
            assert not delivery.attempt_set.exists()
            release.set()

            stack.start_worker(queues=None)
            # The dead worker's lease runs out (2 × 2 s + 10 s), then the sweeper sends it.
            wait_until(
                lambda: Delivery.objects.get(pk=delivery.pk).locked_until < timezone.now(),
                timeout=30,
                what="the lease to expire",
            )
            swept = stack.manage(
                "shell",
                "-c",
                "from gamify.webhooks.tasks import webhooks_sweep; "
                "print(webhooks_sweep.apply().get())",
            )
            assert "1 enqueued" in swept
            wait_until(
                lambda: Delivery.objects.get(pk=delivery.pk).status == "succeeded",
                timeout=60,
                what="the delivery to succeed after the restart",
            )
            time.sleep(0.5)
            assert len(receiver.received) == 2
            ids = {r.headers["X-Gamify-Delivery"] for r in receiver.received}
            assert ids == {str(delivery.uuid)}
            last = receiver.received[-1]
            assert readme_verify()(hook.secret, last.headers, last.body)
            assert json.loads(last.body)["data"] == {"level": 2}
            assert Delivery.objects.get(pk=delivery.pk).attempt_set.count() == 1
    finally:
        stack.stop()
        redis.stop()
