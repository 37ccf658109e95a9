"""Deliveries end to end to a real receiver thread: signed as the README verifies, retried,
disabled after 24 h of failure, re-sent by the sweeper, and written with their activity."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from gamify.activity.models import Activity
from gamify.activity.services import activity_record
from gamify.webhooks.models import Delivery, Endpoint
from gamify.webhooks.services import retry_delay
from gamify.webhooks.tasks import webhooks_sweep
from tests.webhooks.receiver import receiving
from tests.webhooks.support import endpoint, grant, readme_verify, subscribe, sweep_forward

pytestmark = pytest.mark.django_db


def test_a_delivery_is_signed_as_the_readme_verifies_it(api, agent, commit, receiver):
    hook = subscribe(api, receiver.url, ["wallet.granted"])
    grant(api, commit, amount=25)

    [got] = receiver.received
    verify = readme_verify()
    assert verify(hook["secret"], got.headers, got.body)
    assert not verify(hook["secret"], got.headers, got.body + b" ")  # tampered body
    assert not verify("whsec_someone-else", got.headers, got.body)
    body = json.loads(got.body)
    assert body["type"] == "wallet.granted"
    assert body["agent"] == "a1"
    assert body["tenant"] == "acme"
    assert body["data"]["amount"] == 25
    assert got.headers["X-Gamify-Event"] == "wallet.granted"
    delivery = Delivery.objects.get(endpoint_id=hook["id"])
    assert got.headers["X-Gamify-Delivery"] == str(delivery.uuid)
    assert delivery.status == "succeeded"
    # The same activity as the feed shows it.
    activity = api.get("/api/v1/activity?types=wallet.granted").json()["results"][0]
    assert body["id"] == activity["id"]
    assert body["occurred_at"] is not None


def test_the_readme_receiver_rejects_a_delivery_older_than_five_minutes(
    api, agent, commit, receiver
):
    hook = subscribe(api, receiver.url)
    grant(api, commit)
    [got] = receiver.received
    verify = readme_verify()
    sent = int(got.headers["X-Gamify-Timestamp"])
    with time_machine.travel(sent + 299, tick=False):
        assert verify(hook["secret"], got.headers, got.body)
    with time_machine.travel(sent + 301, tick=False):
        assert not verify(hook["secret"], got.headers, got.body)


def test_three_failures_then_200_make_four_attempts_and_one_success(api, agent, commit):
    with receiving(script=[500, 503, 500]) as receiver:
        hook = subscribe(api, receiver.url)
        grant(api, commit)
        sweep_forward(
            commit,
            step=timedelta(minutes=2),
            until=lambda: Delivery.objects.get(endpoint_id=hook["id"]).status == "succeeded",
        )
    assert len(receiver.received) == 4
    assert len({r.headers["X-Gamify-Delivery"] for r in receiver.received}) == 1
    page = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()
    [delivery] = page["results"]
    assert delivery["status"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 500, 200]
    assert delivery["attempts"][0]["response_excerpt"] == "answer 500"
    assert all(a["duration_ms"] >= 0 for a in delivery["attempts"])
    assert endpoint(hook["id"]).failing_since is None  # the success cleared it


def test_an_endpoint_failing_for_24_hours_is_disabled_with_an_activity(api, agent, commit):
    with receiving(default=500) as failing, receiving() as watcher:
        hook = subscribe(api, failing.url, ["wallet.granted"])
        subscribe(api, watcher.url, ["webhook.disabled"])
        grant(api, commit)
        started = timezone.now()
        sweep_forward(
            commit, step=timedelta(minutes=30), until=lambda: not endpoint(hook["id"]).active
        )
        disabled = endpoint(hook["id"])
        assert disabled.disabled_at - started >= timedelta(hours=24)
        assert disabled.disabled_at - started < timedelta(hours=26)
        assert "HTTP 500" in disabled.disabled_reason
        assert Delivery.objects.get(endpoint_id=hook["id"]).status == "failed"
        # Retried with backoff: ~30 attempts in 24 h, not one per sweep (49 sweeps).
        assert 10 < len(failing.received) < 40
        feed = api.get("/api/v1/activity?types=webhook.disabled").json()["results"]
        assert [a["data"]["webhook"] for a in feed] == [hook["id"]]
        # The tenant's other endpoint was told.
        [told] = watcher.received
        assert json.loads(told.body)["data"]["webhook"] == hook["id"]
        shown = api.get(f"/api/v1/webhooks/{hook['id']}").json()
        assert shown["active"] is False
        assert shown["disabled_at"] is not None
        # Nothing more is sent to a disabled endpoint.
        count = len(failing.received)
        grant(api, commit)
        assert len(failing.received) == count


def test_backoff_grows_exponentially_with_jitter_and_is_capped_at_an_hour():
    assert retry_delay(1, rand=lambda: 1.0) == timedelta(seconds=10)
    assert retry_delay(1, rand=lambda: 0.0) == timedelta(seconds=5)
    assert retry_delay(4, rand=lambda: 1.0) == timedelta(seconds=80)
    assert retry_delay(30, rand=lambda: 1.0) == timedelta(hours=1)


def test_a_delivery_whose_task_was_lost_is_sent_by_the_sweeper(api, agent, receiver, commit):
    hook = subscribe(api, receiver.url)
    # Without running the on-commit hooks: as if the broker was down when the request committed.
    response = api.post(
        "/api/v1/agents/a1/wallet/grants", {"amount": 5, "reason": "x"}, format="json"
    )
    assert response.status_code == 201
    assert receiver.received == []
    assert Delivery.objects.get(endpoint_id=hook["id"]).status == "pending"
    assert commit(lambda: webhooks_sweep.apply().get()) == "1 enqueued"
    assert len(receiver.received) == 1
    assert Delivery.objects.get(endpoint_id=hook["id"]).status == "succeeded"


def test_deliveries_are_written_with_their_activity_or_not_at_all(tenant, agent, api, receiver):
    hook = subscribe(api, receiver.url)
    written = []

    def failing_task() -> None:
        with transaction.atomic():
            activity_record(tenant=tenant, type="level.up", key="k1", agent_id=agent.pk)
            written.append(Delivery.objects.filter(endpoint_id=hook["id"]).count())
            raise RuntimeError("the apply task failed")

    with pytest.raises(RuntimeError):
        failing_task()
    assert written == [1]
    assert not Activity.objects.filter(key="k1").exists()
    assert not Delivery.objects.filter(endpoint_id=hook["id"]).exists()
    # A repeated key (a retried task) records nothing new and so delivers nothing twice.
    activity_record(tenant=tenant, type="level.up", key="k2", agent_id=agent.pk)
    activity_record(tenant=tenant, type="level.up", key="k2", agent_id=agent.pk)
    assert Delivery.objects.filter(endpoint_id=hook["id"]).count() == 1


def test_only_subscribed_types_of_the_own_tenant_are_delivered(
    api, outsider_api, agent, commit, tenant
):
    with receiving() as levels, receiving() as everything, receiving() as foreign:
        subscribe(api, levels.url, ["level.up"])
        subscribe(api, everything.url, ["*"])
        subscribe(outsider_api, foreign.url, ["*"])
        grant(api, commit)
        assert levels.received == []
        assert foreign.received == []
        assert [r.headers["X-Gamify-Event"] for r in everything.received] == ["wallet.granted"]


def test_a_rotated_secret_signs_beside_the_new_one_for_24_hours(api, agent, commit, receiver):
    hook = subscribe(api, receiver.url)
    rotated = api.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret").json()
    assert rotated["secret"] != hook["secret"]
    assert rotated["secret"].startswith("whsec_")
    verify = readme_verify()
    grant(api, commit)
    got = receiver.received[-1]
    assert got.headers["X-Gamify-Signature"].count("sha256=") == 2
    assert verify(rotated["secret"], got.headers, got.body)
    assert verify(hook["secret"], got.headers, got.body)
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1), tick=False):
        grant(api, commit)
        got = receiver.received[-1]
        assert got.headers["X-Gamify-Signature"].count("sha256=") == 1
        assert verify(rotated["secret"], got.headers, got.body)
        assert not verify(hook["secret"], got.headers, got.body)


def test_a_ping_and_a_redelivery(api, commit, receiver):
    hook = subscribe(api, receiver.url)
    response = commit(lambda: api.post(f"/api/v1/webhooks/{hook['id']}/test"))
    assert response.status_code == 202
    [ping] = receiver.received
    assert ping.headers["X-Gamify-Event"] == "ping"
    assert json.loads(ping.body)["type"] == "ping"
    delivery = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["results"][0]
    assert delivery["status"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempts"]] == [200]
    again = commit(
        lambda: api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
    )
    assert again.status_code == 202
    assert len(receiver.received) == 2
    assert receiver.received[1].headers["X-Gamify-Delivery"] == delivery["delivery"]
    shown = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}").json()
    assert [a["status_code"] for a in shown["attempts"]] == [200, 200]


def test_redirects_are_not_followed(api, commit):
    with receiving() as target, receiving(default=302) as redirecting:
        redirecting.location = target.url
        hook = subscribe(api, redirecting.url)
        commit(lambda: api.post(f"/api/v1/webhooks/{hook['id']}/test"))
        assert len(redirecting.received) == 1
        assert target.received == []
    delivery = Delivery.objects.get(endpoint_id=hook["id"])
    assert delivery.status == "pending"  # a failed attempt, to be retried
    assert delivery.attempt_set.get().status_code == 302


def test_a_slow_receiver_times_out_and_is_retried(api, commit, settings):
    import threading

    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    with receiving(hold=threading.Event(), hold_seconds=3) as slow:
        hook = subscribe(api, slow.url)
        commit(lambda: api.post(f"/api/v1/webhooks/{hook['id']}/test"))
    attempt = Delivery.objects.get(endpoint_id=hook["id"]).attempt_set.get()
    assert attempt.status_code is None
    assert "timed out" in attempt.error.lower() or "timeout" in attempt.error.lower()
    assert attempt.duration_ms < 3000
    assert Endpoint.objects.get(pk=hook["id"]).failing_since is not None
