"""A request never waits on a tenant's lock past the web server's timeout: while a long
recompute holds it, a manual adjustment or a level-table change answers 503 with
Retry-After (problem+json), changes nothing, and goes through once the lock is free.
(Found by fuzzing: an adjustment waited on the apply lock past gunicorn's 30 s.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection

from core.locks import APPLY_LOCK, INGEST_LOCK
from gamify.game.models import Level, PointAdjustment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held(tenant: Any) -> Iterator[Any]:
    """Another session holding the tenant's locks, as a running rebuild would."""

    def hold(lock_class: int) -> psycopg.Connection[Any]:
        s = connection.settings_dict
        other = psycopg.connect(
            host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], dbname=s["NAME"],
            password=s["PASSWORD"] or None, autocommit=True,
        )  # fmt: skip
        other.execute("SELECT pg_advisory_lock(%s, %s)", [lock_class, tenant.pk])
        sessions.append(other)
        return other

    sessions: list[psycopg.Connection[Any]] = []
    yield hold
    for other in sessions:
        other.close()


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch: Any) -> None:
    monkeypatch.setattr("gamify.game.services.REQUEST_LOCK_WAIT_SECONDS", 1)
    monkeypatch.setattr("accounts.services.REQUEST_LOCK_WAIT_SECONDS", 1)


def test_an_adjustment_during_a_recompute_is_a_503_with_retry_after(api, agent, held):
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite serialises writers itself")
    other = held(APPLY_LOCK)
    body = {"points": 5, "reason": "great call"}
    url = f"/api/v1/agents/{agent.external_id}/points/adjustments"
    busy = api.post(url, body, format="json")
    assert busy.status_code == 503, busy.content
    assert busy["Content-Type"] == "application/problem+json"
    assert busy["Retry-After"] == "1"
    assert busy.json()["type"].endswith("/busy")
    assert not PointAdjustment.objects.filter(agent=agent).exists()

    other.execute("SELECT pg_advisory_unlock(%s, %s)", [APPLY_LOCK, agent.tenant_id])
    done = api.post(url, body, format="json")
    assert done.status_code == 201, done.content
    assert PointAdjustment.objects.filter(agent=agent).count() == 1


def test_a_level_table_change_during_a_recompute_is_a_503(api, tenant, held):
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    held(APPLY_LOCK)
    levels = [{"number": 1, "name": "Rookie", "min_points": 0}]
    busy = api.put("/api/v1/levels", levels, format="json")
    assert busy.status_code == 503, busy.content
    assert busy.has_header("Retry-After")
    assert not Level.objects.filter(tenant=tenant).exists()


def test_moving_an_agent_during_a_rebuild_is_a_503(api, agent, held):
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    held(INGEST_LOCK)
    moved = api.put(
        f"/api/v1/agents/{agent.external_id}", {"display_name": "Ann", "team": None}, format="json"
    )
    assert moved.status_code == 503, moved.content
    assert moved.has_header("Retry-After")
    agent.refresh_from_db()
    assert agent.team_id is not None
