"""Finished deliveries and their attempts are purged WEBHOOKS_RETENTION_DAYS after they
finished, in batches of set-based deletes; pending and in-flight ones never are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gamify.webhooks.models import Attempt, Delivery
from gamify.webhooks.services import deliveries_purge, endpoint_create
from gamify.webhooks.tasks import webhooks_purge

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def endpoint(tenant):
    return endpoint_create(tenant=tenant, url="http://127.0.0.1:9/hooks", events=["*"]).endpoint


def delivery(endpoint, status, *, age_days, attempts=1, delivered_days=None, first_days=None):
    """A delivery created `age_days` ago with `attempts` attempt rows."""
    made = Delivery.objects.create(
        tenant_id=endpoint.tenant_id,
        endpoint=endpoint,
        event_type="ping",
        payload={"n": 1},
        status=status,
        next_attempt_at=NOW - timedelta(days=age_days),
        first_attempt_at=None if first_days is None else NOW - timedelta(days=first_days),
        delivered_at=None if delivered_days is None else NOW - timedelta(days=delivered_days),
    )
    Delivery.objects.filter(pk=made.pk).update(created_at=NOW - timedelta(days=age_days))
    Attempt.objects.bulk_create(
        Attempt(delivery=made, started_at=NOW, duration_ms=5, status_code=500)
        for _ in range(attempts)
    )
    return made.pk


def test_old_finished_deliveries_go_with_their_attempts_and_the_rest_stay(endpoint, settings):
    settings.WEBHOOKS_RETENTION_DAYS = 30
    old_ok = delivery(endpoint, "succeeded", age_days=40, attempts=2, delivered_days=40)
    old_failed = delivery(endpoint, "failed", age_days=31, attempts=3, first_days=31)
    # kept: pending / sending however old, finished less than 30 days ago
    old_pending = delivery(endpoint, "pending", age_days=90, attempts=4, first_days=0)
    old_sending = delivery(endpoint, "sending", age_days=90)
    recent = delivery(endpoint, "succeeded", age_days=29, delivered_days=29)
    # created 40 days ago, redelivered and succeeded 2 days ago: finished 2 days ago
    redelivered = delivery(endpoint, "succeeded", age_days=40, first_days=2, delivered_days=2)
    assert deliveries_purge(now=NOW) == 2
    assert set(Delivery.objects.values_list("id", flat=True)) == {
        old_pending,
        old_sending,
        recent,
        redelivered,
    }
    assert not Attempt.objects.filter(delivery_id__in=[old_ok, old_failed]).exists()
    assert Attempt.objects.count() == 4 + 1 + 1 + 1
    assert deliveries_purge(now=NOW) == 0


def test_the_retention_setting_moves_the_cutoff(endpoint, settings):
    settings.WEBHOOKS_RETENTION_DAYS = 7
    gone = delivery(endpoint, "succeeded", age_days=8, delivered_days=8)
    kept = delivery(endpoint, "failed", age_days=6, first_days=6)
    assert deliveries_purge(now=NOW) == 1
    assert list(Delivery.objects.values_list("id", flat=True)) == [kept]
    assert gone != kept


def test_batches_are_set_based_a_few_statements_each(endpoint, settings):
    settings.WEBHOOKS_RETENTION_DAYS = 30
    for _ in range(25):
        delivery(endpoint, "succeeded", age_days=60, attempts=2, delivered_days=60)
    with CaptureQueriesContext(connection) as queries:
        assert deliveries_purge(now=NOW, batch=10) == 25
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    # three batches (10, 10, 5): attempts then deliveries, one statement each
    assert len(deletes) == 6
    assert ['"webhooks_attempt"' in sql for sql in deletes] == [True, False] * 3
    assert (
        len(queries.captured_queries) <= 3 * 6
    )  # ids, ids again (only pk), two deletes; savepoints
    assert not Delivery.objects.exists()
    assert not Attempt.objects.exists()


def test_the_beat_job_purges(endpoint, settings):
    settings.WEBHOOKS_RETENTION_DAYS = 30
    delivery(endpoint, "failed", age_days=45, first_days=45)
    assert webhooks_purge.apply().get() == "1 purged"
    assert not Delivery.objects.exists()
    assert "gamify.webhooks_purge" in {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
