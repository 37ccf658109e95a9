"""Redis stopped while platforms post events: events still get their 202, /readyz names Redis,
boards are answered from SQL (`X-Gamify-Source: sql`) and equal what SQL computes; when Redis
comes back (empty: it kept nothing on disk), the backlog is applied and the live boards catch
up and equal SQL again."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from accounts.models import Tenant
from bench.stack import Redis, Stack
from tests.faults.client import TIMEOUT, Api, board_rows, interaction, wait_for
from tests.faults.conftest import tenant_api
from tests.faults.state import sql_board

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

METRICS = ("points", "contacts_handled", "aht")
AGENTS = 8


def post(api: Api, prefix: str, count: int, now: datetime) -> float:
    """Post `count` events in batches of 25; returns the slowest answer, in seconds."""
    slowest = 0.0
    for start in range(0, count, 25):
        events = [
            interaction(f"{prefix}-{n}", f"a{n % AGENTS}", (now - timedelta(seconds=n)).isoformat(),
                        talk_seconds=60 + n % 7 * 30)
            for n in range(start, min(start + 25, count))
        ]  # fmt: skip
        began = time.monotonic()
        response = api.post("/events", {"events": events})
        slowest = max(slowest, time.monotonic() - began)
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == len(events)
    return slowest


def boards_live_and_equal_sql(api: Api, tenant: Tenant) -> bool:
    for metric in METRICS:
        response = api.board(metric)
        if response.headers["X-Gamify-Source"] != "live":
            return False
        if board_rows(response.json()) != sql_board(tenant, metric):
            return False
    return True


def test_redis_outage_keeps_ingesting_serves_boards_from_sql_and_catches_up(
    redis_server: Redis, make_stack: Any, tmp_path: Path
) -> None:
    stack: Stack = make_stack(redis_server, web_workers=2)
    api = tenant_api(stack, name="Outage")
    tenant = Tenant.objects.get(slug=api.slug)
    stack.start_web()
    stack.start_worker(queues=None)
    stack.start_beat(tmp_path / "beat.log")
    api.ok(
        "post",
        "/point-rules",
        {
            "name": "2 per contact",
            "kpi": "contacts_handled",
            "kind": "per_unit",
            "points": 2,
            "period": "day",
        },
    )
    now = datetime.now(UTC).replace(microsecond=0)
    post(api, "before", 100, now)
    for metric in METRICS:  # first reads: SQL, and the boards are filled to be kept live
        assert api.board(metric).status_code == 200
    wait_for(api.settled, timeout=60, what="the first events to be applied")
    wait_for(lambda: boards_live_and_equal_sql(api, tenant), timeout=60, what="live boards")

    redis_server.stop()
    slowest = post(api, "during", 200, now - timedelta(minutes=5))
    assert slowest < TIMEOUT / 2  # a dead broker costs a request at most a short timeout
    ready = requests.get(f"{api.base_url}/readyz", timeout=TIMEOUT)
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["redis"]
    assert ready.json()["checks"]["database"] == "ok"
    for metric in METRICS:
        response = api.board(metric)
        assert response.status_code == 200
        assert response.headers["X-Gamify-Source"] == "sql"
        assert board_rows(response.json()) == sql_board(tenant, metric), metric
    # The KPI board already counts the new events (buckets are written with the raw rows);
    # points wait for the worker, which waits for its broker.
    contacts = {row[1]: row[2] for row in board_rows(api.board("contacts_handled").json())}
    assert sum(contacts.values()) == 300
    assert api.get("/agents/a1/profile").status_code == 200
    assert api.status()["pending"] == 200

    redis_server.start()  # on the same port, with nothing in it
    wait_for(api.settled, timeout=120, what="the backlog to be applied after Redis returned")
    wait_for(lambda: boards_live_and_equal_sql(api, tenant), timeout=60,
             what="the live boards to catch up with SQL")  # fmt: skip
    points = {row[1]: row[2] for row in board_rows(api.board("points").json())}
    assert sum(points.values()) == 2 * 300

    # And they keep up from there.
    post(api, "after", 50, now)
    wait_for(api.settled, timeout=60, what="events after the outage to be applied")
    wait_for(lambda: boards_live_and_equal_sql(api, tenant), timeout=30, what="live boards")
    assert requests.get(f"{api.base_url}/readyz", timeout=TIMEOUT).json()["failed"] == []
