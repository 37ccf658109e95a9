"""Health, readiness and metrics endpoints (no auth)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_503_names_the_failed_dependency(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["redis"]
    assert response.json()["checks"]["database"] == "ok"


def test_metrics_counts_requests(client, api):
    api.get("/api/v1/agents")
    text = client.get("/metrics").content.decode()
    assert "gamify_http_requests_total{" in text
    assert 'route="api/v1/agents"' in text
    assert "gamify_http_request_duration_seconds_bucket" in text


def test_every_task_is_routed_to_a_declared_queue():
    """A worker started without -Q consumes the declared queues: a task routed elsewhere would
    wait for ever."""
    from config.celery import app

    app.loader.import_default_modules()
    declared = set(app.amqp.queues)
    assert declared == {"default", "ingest", "game", "webhooks"}
    routes = {
        name: app.amqp.router.route({}, name)["queue"].name
        for name in app.tasks
        if not name.startswith("celery.")
    }
    assert set(routes.values()) <= declared, routes
    assert routes["kpis.apply_pending"] == "ingest"
    assert routes["kpis.sweep_pending"] == "ingest"
    assert routes["gamify.populate_board"] == "game"
    assert routes["accounts.tasks.purge_idempotency_keys"] == "default"
    # The narrower webhook route wins over gamify.*.
    assert app.amqp.router.route({}, "gamify.webhook_deliver")["queue"].name == "webhooks"


def test_readyz_warns_about_work_no_worker_consumes(client, settings):
    from core.queues import announce_consumer, consumer_key
    from core.redis import get_redis

    redis_client = get_redis()
    assert redis_client is not None
    queue = "webhooks"  # kombu keeps a queue as a Redis list of its name
    redis_client.delete(queue, consumer_key(queue))
    try:
        redis_client.rpush(queue, "{}", "{}")
        body = client.get("/readyz").json()
        assert body["status"] == "ok"
        assert body["warnings"] == [
            "queue 'webhooks' holds 2 tasks and no worker consumes it: start "
            "`celery -A config worker` (all queues) or add webhooks to a worker's -Q"
        ]
        announce_consumer(["webhooks"])
        assert client.get("/readyz").json()["warnings"] == []
    finally:
        redis_client.delete(queue, consumer_key(queue))
