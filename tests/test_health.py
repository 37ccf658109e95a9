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
