"""The pipeline with real processes: gunicorn + a Celery worker on Redis + PostgreSQL.

Events posted → pending reaches 0 → KPIs right; with the broker stopped, posting still answers
202, and once it is back the sweeper gets the stored events applied.
"""

from __future__ import annotations

import json

import pytest
import requests
from django.conf import settings

from bench.stack import Redis, Stack, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def stack(tmp_path):
    redis = Redis(tmp_path)
    redis.start()
    stack = Stack(database_url(), redis)
    out = stack.manage("create_tenant", "--name", "Integration", "--timezone", "UTC", "--json")
    stack.api_key = json.loads(out.strip().splitlines()[-1])["api_key"]
    stack.redis = redis
    stack.start_web()
    stack.start_worker()
    yield stack
    stack.stop()
    redis.stop()


def interaction(n: int, *, answered: bool = True) -> dict:
    return {
        "event_id": f"i{n}", "type": "interaction", "occurred_at": "2026-11-20T09:15:00Z",
        "agent": "a1", "answered": answered, "talk_seconds": 100 + n, "wait_seconds": 5,
    }  # fmt: skip


def test_worker_applies_and_sweeper_recovers_from_a_broker_outage(stack):
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    api = f"{stack.base_url}/api/v1"

    def status() -> dict:
        return requests.get(f"{api}/ingest/status", headers=headers, timeout=5).json()

    posted = requests.post(
        f"{api}/events", json={"events": [interaction(n) for n in range(10)]}, headers=headers,
        timeout=30,
    )  # fmt: skip
    assert posted.status_code == 202
    assert posted.json()["accepted"] == 10
    wait_until(lambda: status()["pending"] == 0, timeout=30, what="worker to apply")
    kpis = requests.get(
        f"{api}/agents/a1/kpis?period=day&date=2026-11-20", headers=headers, timeout=5
    ).json()["kpis"]
    # talk 100..109 → Σ 1045 over 10 answered → AHT 104.5 s
    assert kpis["aht"] == {"value": 104.5, "numerator": 1045, "denominator": 10, "volume": 10,
                           "qualified": True}  # fmt: skip

    stack.redis.stop()
    down = requests.post(
        f"{api}/events", json={"events": [interaction(n) for n in range(10, 15)]},
        headers=headers, timeout=60,
    )  # fmt: skip
    assert down.status_code == 202
    assert down.json()["accepted"] == 5
    assert status()["pending"] == 5  # stored, not applied: nothing lost
    stack.redis.start()
    # The beat schedule's sweeper (as `celery beat` or run_periodic would run it).
    stack.manage("run_periodic", "--once")
    wait_until(lambda: status()["pending"] == 0, timeout=60, what="sweeper + worker")
    kpis = requests.get(
        f"{api}/agents/a1/kpis?period=day&date=2026-11-20", headers=headers, timeout=5
    ).json()["kpis"]
    assert kpis["contacts_handled"]["value"] == 15
