"""Ingestion benchmark (issue 4): events/s accepted and applied end to end, and freshness.

PostgreSQL + a private Redis + gunicorn + one Celery worker; 200k simulated events (500 agents
× 14 days) POSTed in batches of 1000 from 4 concurrent clients. Prints:
* sustained events/s accepted (all 202s received) and applied (pending back to 0);
* freshness at half that rate: 202 → the KPI query reflecting the event, and 202 → applied
  downstream (batch applied_at − created_at), p50/p95;
* a bare binary COPY of the same rows into a scratch table, and the ratio.
Five leaderboards are read first (points day/week/month, AHT day, CSAT week), as widgets
would: they are live, so every applied batch also keeps them.

    .venv/bin/python bench/ingest.py [--events 200000] [--web-workers 3]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres); uses the database `gamify_bench`
(dropped and recreated) and its own redis-server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.stack import ROOT, CpuMeter, Redis, Stack, wait_until
from kpis.simulation import profiles, simulate

PG = "postgres://postgres@127.0.0.1:5432"
TZ = "Asia/Shanghai"


def recreate_database(name: str) -> str:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG}/{name}"


def make_events(count: int, agents: int, days: int, seed: int) -> list[dict[str, Any]]:
    roster = [(f"sim-{n + 1:04d}", f"sim-team-{n // 10 + 1:02d}") for n in range(agents)]
    tz = ZoneInfo(TZ)
    end_day = (datetime.now(UTC) - timedelta(days=1)).astimezone(tz).date()
    per_day = count / (agents * days) * 0.8  # contacts → events (surveys, QA, adherence …)
    events = list(
        simulate(
            profiles(roster, seed), tz=tz, days=days, end_day=end_day, seed=seed, contacts=per_day
        )
    )
    while len(events) < count:  # top up with a few more days if the dice were stingy
        end_day -= timedelta(days=days)
        events += list(
            simulate(
                profiles(roster, seed),
                tz=tz,
                days=1,
                end_day=end_day,
                seed=seed + 1,
                contacts=per_day,
            )
        )
    return events[:count]


def batches_of(events: list[dict[str, Any]], size: int = 1000) -> list[bytes]:
    return [
        json.dumps({"events": events[i : i + size]}).encode() for i in range(0, len(events), size)
    ]


def post_all(args: tuple[int, str, list[bytes]]) -> list[float]:
    """One client: POST its batches back to back on a kept-alive connection."""
    port, key, bodies = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies = []
    for body in bodies:
        started = time.perf_counter()
        conn.request("POST", "/api/v1/events", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        if response.status != 202:
            raise RuntimeError(f"{response.status}: {payload[:300]!r}")
        latencies.append(time.perf_counter() - started)
    conn.close()
    return latencies


def pending(conn: http.client.HTTPConnection, key: str) -> int:
    conn.request("GET", "/api/v1/ingest/status", headers={"Authorization": f"Bearer {key}"})
    return int(json.loads(conn.getresponse().read())["pending"])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def copy_baseline(database_url: str, events: list[dict[str, Any]]) -> float:
    """Rows/s of a bare binary COPY of the same rows (tenant, event_id, type, agent,
    occurred_at, payload) into an unindexed scratch table."""
    rows = [
        (1, e["event_id"], 1, 1, datetime.fromisoformat(e["occurred_at"]), json.dumps(e))
        for e in events
    ]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "CREATE UNLOGGED TABLE IF NOT EXISTS bench_copy (tenant_id bigint, event_id text, "
            "type smallint, agent_id bigint, occurred_at timestamptz, payload jsonb)"
        )
        conn.execute("TRUNCATE bench_copy")
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy("COPY bench_copy FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["int8", "text", "int2", "int8", "timestamptz", "jsonb"])
            for row in rows:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy")
    return len(rows) / elapsed


WATCHED_BOARDS = [("points", "day"), ("points", "week"), ("points", "month"), ("aht", "day"),
                  ("csat", "week")]  # fmt: skip


def board_source(conn: http.client.HTTPConnection, key: str, path: str, *, want: str) -> bool:
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    response.read()
    return response.getheader("X-Gamify-Source") == want


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--database", default="gamify_bench")
    args = parser.parse_args()

    print(f"Generating {args.events} events ({args.agents} agents × {args.days} days)…")
    events = make_events(args.events, args.agents, args.days, seed=7)
    bodies = batches_of(events)
    database_url = recreate_database(args.database)
    workdir = ROOT / "var" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    redis = Redis(workdir)
    redis.start()
    stack = Stack(database_url, redis, web_workers=args.web_workers, CONN_MAX_AGE="600")
    try:
        stack.manage("migrate", "--noinput")
        out = stack.manage("create_tenant", "--name", "Bench", "--timezone", TZ, "--json")
        key = json.loads(out.strip().splitlines()[-1])["api_key"]
        stack.manage("simulate", "--tenant", "bench", "--agents", str(args.agents), "--days", "0")
        stack.start_web()
        stack.start_worker()
        status_conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
        # What agents' widgets and a wall display read: those boards are live, and every
        # applied batch keeps them (boards nobody reads cost the worker nothing).
        for metric, period in WATCHED_BOARDS:
            path = f"/api/v1/leaderboards?metric={metric}&period={period}"
            wait_until(partial(board_source, status_conn, key, path, want="live"), timeout=60,
                       what=f"live board {path}")  # fmt: skip

        # --- sustained throughput ---------------------------------------------------------
        shares = [bodies[i :: args.clients] for i in range(args.clients)]
        print(f"Posting {len(bodies)} batches of 1000 from {args.clients} clients…")
        with CpuMeter() as cpu:
            started = time.perf_counter()
            with multiprocessing.Pool(args.clients) as pool:
                latencies = [
                    x
                    for part in pool.map(post_all, [(stack.port, key, s) for s in shares])
                    for x in part
                ]
            accepted_at = time.perf_counter() - started
            wait_until(lambda: pending(status_conn, key) == 0, timeout=600, what="pending = 0")
            applied_at = time.perf_counter() - started
        accepted_rate = args.events / accepted_at
        applied_rate = args.events / applied_at

        # --- freshness at half the sustained rate ------------------------------------------
        fresh_events = make_events(20_000, args.agents, 1, seed=11)
        for n, event in enumerate(fresh_events):
            event["event_id"] = f"fresh-{n}"
            event["occurred_at"] = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        fresh_bodies = batches_of(fresh_events)
        interval = 1000 / (accepted_rate / 2)
        kpi_lag: list[float] = []
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        day = datetime.now(UTC).astimezone(ZoneInfo(TZ)).date().isoformat()
        for n, body in enumerate(fresh_bodies):
            tick = time.perf_counter()
            marker = {
                "event_id": f"marker-{n}",
                "type": "interaction",
                "answered": True,
                "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                "agent": f"marker-{n}",
                "talk_seconds": 60,
            }
            batch = json.loads(body)
            batch["events"][-1] = marker
            conn.request("POST", "/api/v1/events", body=json.dumps(batch), headers=headers)
            response = conn.getresponse()
            response.read()
            accepted = time.perf_counter()
            while True:
                conn.request(
                    "GET", f"/api/v1/agents/marker-{n}/kpis?period=day&date={day}", headers=headers
                )
                kpis = json.loads(conn.getresponse().read())
                if kpis.get("kpis", {}).get("contacts_handled", {}).get("value") == 1:
                    break
            kpi_lag.append(time.perf_counter() - accepted)
            time.sleep(max(0.0, interval - (time.perf_counter() - tick)))
        wait_until(lambda: pending(status_conn, key) == 0, timeout=120, what="pending = 0")
        with psycopg.connect(database_url) as db:
            applied_lag = [
                row[0]
                for row in db.execute(
                    "SELECT extract(epoch FROM applied_at - created_at) FROM kpis_ingestbatch "
                    "WHERE id > (SELECT max(id) - %s FROM kpis_ingestbatch)",
                    [len(fresh_bodies)],
                )
            ]
        copy_rate = copy_baseline(database_url, events)
    finally:
        stack.stop()
        redis.stop()

    print()
    print(
        f"machine: {os.cpu_count()} cores; gunicorn {args.web_workers} sync workers, "
        f"1 Celery worker (solo), {args.clients} clients"
    )
    print(
        f"accepted  {accepted_rate:10,.0f} events/s  ({args.events} events in "
        f"{accepted_at:.1f}s; POST p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms)"
    )
    print(f"applied   {applied_rate:10,.0f} events/s  (pending back to 0 after {applied_at:.1f}s)")
    print(
        f"freshness at {accepted_rate / 2:,.0f} events/s: 202 → KPI query reflects it "
        f"p50 {percentile(kpi_lag, 50) * 1000:.1f} ms, p95 {percentile(kpi_lag, 95) * 1000:.1f} ms;"
        f" 202 → applied downstream p50 {statistics.median(applied_lag) * 1000:.0f} ms, "
        f"p95 {percentile([float(x) for x in applied_lag], 95) * 1000:.0f} ms"
    )
    print(
        f"bare binary COPY of the same rows: {copy_rate:,.0f} rows/s; "
        f"accepted/COPY = {accepted_rate / copy_rate:.2f}"
    )
    used = cpu.seconds()
    if any(used.values()):
        per = ", ".join(f"{kind} {s / args.events * 1e6:.0f} µs" for kind, s in used.items())
        print(f"CPU per event while posting and applying (all processes): {per}")
    target = "met" if min(accepted_rate, applied_rate) >= 15_000 else "MISSED"
    print(f"target ≥ 15,000 events/s accepted and applied: {target}")


if __name__ == "__main__":
    main()
