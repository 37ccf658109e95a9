"""PostgreSQL restarted while platforms post events: clients get 503 problem+json with
Retry-After — never a 500, never a request hanging past the timeout — and no event that got a
202 is lost. The stack runs on a throw-away cluster of its own (never the shared server)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from bench.stack import Postgres, Stack
from tests.faults.client import TIMEOUT, Api, interaction, wait_for
from tests.faults.conftest import tenant_api

pytestmark = [pytest.mark.slow, pytest.mark.faults]

CLIENTS = 3
BATCHES = 30  # per client
PER_BATCH = 50
AGENTS = 5


class Outcomes:
    """Every answer the clients got, and how long each took."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.bad: list[str] = []
        self.slowest = 0.0
        self.accepted: set[str] = set()

    def record(self, response: requests.Response, seconds: float) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            self.slowest = max(self.slowest, seconds)
            if response.status_code >= 500:
                content_type = response.headers.get("Content-Type", "")
                retry_after = response.headers.get("Retry-After", "")
                if (
                    response.status_code != 503
                    or content_type != "application/problem+json"
                    or not retry_after.isdigit()
                    or response.json().get("status") != 503
                ):
                    self.bad.append(
                        f"{response.request.method} {response.request.path_url}: "
                        f"{response.status_code} {content_type} Retry-After={retry_after!r} "
                        f"{response.text[:200]}"
                    )


def post_until_accepted(api: Api, body: dict[str, Any], outcomes: Outcomes) -> None:
    """A platform's client: on 503 wait as told (at most 2 s here) and send the batch again."""
    while True:
        started = time.monotonic()
        try:
            response = api.session.post(f"{api.api}/events", json=body, timeout=TIMEOUT)
        except requests.Timeout:
            with outcomes.lock:
                outcomes.bad.append(f"POST /events hung past {TIMEOUT} s")
            continue
        outcomes.record(response, time.monotonic() - started)
        if response.status_code == 202:
            assert not response.json()["rejected"], response.text
            with outcomes.lock:
                outcomes.accepted.update(e["event_id"] for e in body["events"])
            return
        time.sleep(min(int(response.headers.get("Retry-After", "1")), 2))


def read_loop(api: Api, outcomes: Outcomes, stop: threading.Event) -> None:
    paths = ["/leaderboards?metric=contacts_handled&period=day", "/agents/a1/profile",
             "/ingest/status", "/agents/a2/kpis?period=day"]  # fmt: skip
    n = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            response = api.session.get(f"{api.api}{paths[n % len(paths)]}", timeout=TIMEOUT)
        except requests.Timeout:
            with outcomes.lock:
                outcomes.bad.append(f"GET {paths[n % len(paths)]} hung past {TIMEOUT} s")
            continue
        outcomes.record(response, time.monotonic() - started)
        n += 1
        time.sleep(0.02)


def test_postgres_restart_answers_503_and_loses_no_accepted_event(
    postgres_cluster: Postgres, redis_server: Any, make_stack: Any, tmp_path: Path
) -> None:
    url = postgres_cluster.create_database("gamify")
    stack: Stack = make_stack(redis_server, database=url, web_workers=2)
    stack.manage("migrate", "--noinput", "-v0")
    api = tenant_api(stack, name="Restarted")
    stack.start_web()
    stack.start_worker(queues=None)
    beat_log = tmp_path / "beat.log"
    beat = stack.start_beat(beat_log)
    wait_for(lambda: "Sending due task" in beat_log.read_text(), timeout=60, what="beat to run")
    day = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))

    outcomes = Outcomes()
    stop = threading.Event()

    def client(c: int) -> None:
        for b in range(BATCHES):
            events = [
                interaction(f"c{c}-b{b}-{i}", f"a{i % AGENTS}", day) for i in range(PER_BATCH)
            ]
            post_until_accepted(api, {"events": events}, outcomes)
            time.sleep(0.05)

    posters = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    reader = threading.Thread(target=read_loop, args=(api, outcomes, stop))
    for thread in [*posters, reader]:
        thread.start()
    try:
        for outage in range(2):
            wait_for(lambda: sum(outcomes.statuses.values()) > 20, timeout=60, what="traffic")
            time.sleep(1)
            postgres_cluster.stop("fast")  # every session terminated mid-query
            if outage == 1:
                # Beat dies and its supervisor starts it again while the database is down.
                stack.kill(beat)
                beat_log = tmp_path / "beat-restarted.log"
                beat = stack.start_beat(beat_log)
                wait_for(lambda log=beat_log: "database is unavailable" in log.read_text(),
                         timeout=60, what="the new beat to wait for the database")  # fmt: skip
            time.sleep(3)
            postgres_cluster.start()
            time.sleep(2)
    finally:
        for thread in posters:
            thread.join(timeout=300)
        stop.set()
        reader.join(timeout=60)
    assert not any(thread.is_alive() for thread in posters), "a client never got its 202"

    assert outcomes.bad == []
    assert outcomes.statuses[503] > 0, outcomes.statuses  # the outages were seen
    assert set(outcomes.statuses) <= {200, 202, 503}, outcomes.statuses
    assert outcomes.slowest < TIMEOUT

    # Nothing accepted is lost: every event is stored once and, once applied, counted once.
    total = CLIENTS * BATCHES * PER_BATCH
    assert len(outcomes.accepted) == total
    with psycopg.connect(url, connect_timeout=10) as conn:
        stored = {row[0] for row in conn.execute("SELECT event_id FROM kpis_rawevent")}
    assert stored == outcomes.accepted
    wait_for(api.settled, timeout=120, what="every stored batch to be applied")
    handled = 0
    for a in range(AGENTS):
        kpis = api.ok("get", f"/agents/a{a}/kpis?period=day&date={day[:10]}")["kpis"]
        handled += kpis["contacts_handled"]["value"]
    assert handled == total
    assert beat.poll() is None, "celery beat died with the database"
    wait_for(lambda: "Sending due task" in beat_log.read_text(), timeout=60,
             what="the restarted beat to send its tasks")  # fmt: skip
