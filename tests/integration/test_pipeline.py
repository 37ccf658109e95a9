"""The pipeline with real processes: gunicorn + a Celery worker on Redis + PostgreSQL.

Events posted → pending reaches 0 → KPIs right; with the broker stopped, posting still answers
202, and once it is back the sweeper gets the stored events applied.
"""

from __future__ import annotations

import json
import time
from typing import Any

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

    # The worker reconnects with a growing back-off (kombu: up to 30 s between attempts), and
    # the sweeper re-enqueues the stored batch once it is older than SWEEP_AFTER_SECONDS, run
    # again and again as `celery beat` or run_periodic runs it (a single run could come too
    # soon on a fast machine, and find the batch still too young to count as lost).
    def swept() -> bool:
        stack.manage("run_periodic", "--once")
        return status()["pending"] == 0

    wait_until(swept, timeout=120, what="sweeper + worker")
    kpis = requests.get(
        f"{api}/agents/a1/kpis?period=day&date=2026-11-20", headers=headers, timeout=5
    ).json()["kpis"]
    assert kpis["contacts_handled"]["value"] == 15


def test_two_workers_apply_concurrently_without_duplicates(tmp_path):
    """Batches applied by two Celery workers at once: every award once, and the result equals
    a recompute from scratch."""
    from concurrent.futures import ThreadPoolExecutor

    from accounts.models import Tenant
    from gamify.game.models import AgentDayPoints, BadgeAward, PointAward
    from gamify.game.services import game_rebuild
    from gamify.wallet.models import LedgerEntry

    redis = Redis(tmp_path)
    redis.start()
    stack = Stack(database_url(), redis)
    try:
        out = stack.manage("create_tenant", "--name", "Two", "--timezone", "UTC", "--json")
        headers = {"Authorization": f"Bearer {json.loads(out.strip().splitlines()[-1])['api_key']}"}
        stack.start_web()
        stack.start_worker()
        stack.start_worker()
        api = f"{stack.base_url}/api/v1"
        rule = {"name": "1 per contact", "kpi": "contacts_handled", "kind": "per_unit",
                "points": 1, "period": "day"}  # fmt: skip
        assert requests.post(f"{api}/point-rules", json=rule, headers=headers, timeout=30).ok
        badge = {"code": "busy", "name": "Busy", "coins": 3, "repeatable": True,
                 "criteria": {"kind": "count", "kpi": "contacts_handled", "count": 5,
                              "period": "day"}}  # fmt: skip
        assert requests.post(f"{api}/badges", json=badge, headers=headers, timeout=30).ok

        def batch(n: int) -> int:
            events: list[Any] = [
                {"event_id": f"b{n}-{i}", "type": "interaction", "answered": True,
                 "occurred_at": f"2026-11-{18 + i % 3}T0{i % 9}:00:00Z", "agent": f"a{i % 7}"}
                for i in range(60)
            ]  # fmt: skip
            response = requests.post(f"{api}/events", json={"events": events}, headers=headers,
                                     timeout=60)  # fmt: skip
            return response.status_code

        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(batch, range(16))) == {202}

        def pending() -> int:
            status = requests.get(f"{api}/ingest/status", headers=headers, timeout=10).json()
            return int(status["pending"])

        wait_until(lambda: pending() == 0, timeout=120, what="both workers to apply")
        tenant = Tenant.objects.get(slug="two")
        awards = sorted(BadgeAward.objects.filter(tenant=tenant).values_list(
            "badge_id", "agent_id", "period_key"))  # fmt: skip
        assert len(awards) == len(set(awards)) == 7 * 3  # 7 agents × 3 days, ≥ 5 contacts each
        credits = LedgerEntry.objects.filter(tenant=tenant, kind="badge_prize").count()
        assert credits == len(awards)
        before = (
            set(PointAward.objects.filter(tenant=tenant).values_list("agent_id", "period_start",
                                                                     "points")),
            set(AgentDayPoints.objects.filter(tenant=tenant).values_list("agent_id", "day",
                                                                         "points")),
        )  # fmt: skip
        game_rebuild(tenant=tenant)
        after = (
            set(PointAward.objects.filter(tenant=tenant).values_list("agent_id", "period_start",
                                                                     "points")),
            set(AgentDayPoints.objects.filter(tenant=tenant).values_list("agent_id", "day",
                                                                         "points")),
        )  # fmt: skip
        assert after == before
        # 16 batches × 60 events over 7 agents and 3 days: 960 contacts, 1 point each
        assert sum(points for _, _, points in before[1]) == 960
    finally:
        stack.stop()
        redis.stop()


def test_the_plain_worker_command_consumes_every_queue_and_readyz_warns_without_one(tmp_path):
    """`celery -A config worker`, as Celery's docs and most templates start it (no -Q),
    applies events; before any worker consumes the ingest queue, /readyz says so."""
    redis = Redis(tmp_path)
    redis.start()
    stack = Stack(database_url(), redis)
    try:
        out = stack.manage("create_tenant", "--name", "Plain", "--timezone", "UTC", "--json")
        headers = {"Authorization": f"Bearer {json.loads(out.strip().splitlines()[-1])['api_key']}"}
        stack.start_web()
        api = f"{stack.base_url}/api/v1"

        def ready() -> dict:
            response = requests.get(f"{stack.base_url}/readyz", timeout=5)
            assert response.status_code == 200  # waiting work does not make the web unready
            return response.json()

        assert ready()["warnings"] == []
        posted = requests.post(f"{api}/events", json={"events": [interaction(1)]},
                               headers=headers, timeout=30)  # fmt: skip
        assert posted.status_code == 202
        [warning] = ready()["warnings"]
        assert "queue 'ingest' holds 1 tasks and no worker consumes it" in warning

        only_default = stack.start_worker(queues="default")
        wait_until(lambda: requests.get(f"{stack.base_url}/readyz", timeout=5).ok, what="web")
        time.sleep(3)  # long enough for it to have announced its queue
        assert [w.split(" holds")[0] for w in ready()["warnings"]] == ["queue 'ingest'"]
        only_default.terminate()
        only_default.wait(timeout=30)

        stack.start_worker(queues=None)

        def applied() -> bool:
            status = requests.get(f"{api}/ingest/status", headers=headers, timeout=5).json()
            return status["pending"] == 0

        wait_until(applied, timeout=60, what="the plain worker to apply")
        assert ready()["warnings"] == []
    finally:
        stack.stop()
        redis.stop()
