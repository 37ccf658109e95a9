"""Widgets benchmark (issue 16): 500 open agent cards polling with ETag / 304 while ingestion
runs at half its measured ceiling.

PostgreSQL + a private Redis + gunicorn (sync workers) + one Celery worker. 500 agents, a
"1 point per contact" rule, one widget token each. Every simulated page does what
widgets.js does: GET `/widgets/agent?token=…&fragment=1` every 2 s with `If-None-Match`.
Phases, each `--seconds` long, in one run:

* A  ingestion alone at half its ceiling (the bare baseline: web CPU without any page);
* B  the same ingestion with the 500 cards open: web CPU, 304 share, and the time from an
     event's 202 to the change on the card of the agent it names (marker events for agents
     the background traffic leaves alone, so the change can only be the marker's);
* C  the 500 cards open with no ingestion: what idle polling (all 304) costs.

    .venv/bin/python bench/widgets.py [--pages 500] [--seconds 40] [--web-workers 3]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres); the database `--database` (default
`gamify_bench_widgets`) is dropped and recreated. Server-sent events are not measured: with
gunicorn's sync workers each open page would hold a worker for as long as it stays open.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import re
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import percentile, recreate_database
from bench.stack import ROOT, Redis, Stack, wait_until

TZ = "Asia/Shanghai"
POLL_SECONDS = 2.0
POINTS = re.compile(rb'data-testid="points-day">([^<]*)<')


def call(agent: str, n: str) -> dict[str, Any]:
    return {
        "event_id": n,
        "type": "interaction",
        "channel": "voice",
        "direction": "inbound",
        "answered": True,
        "talk_seconds": 90,
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "agent": agent,
        "team": f"team-{int(agent.split('-')[1]) // 20:02d}",
    }


class Api:
    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        return response.status, json.loads(payload) if payload else None

    def pending(self) -> int:
        """Stored events not applied yet (a fresh connection each time: none is left half-used)."""
        return int(self.request("GET", "/api/v1/ingest/status")[1]["pending"])


class Page:
    """One open agent card: polls like widgets.js and notes when its points changed."""

    def __init__(self, port: int, token: str, offset: float) -> None:
        self.port, self.path = port, f"/widgets/agent?token={token}&fragment=1"
        self.offset = offset
        self.etag: str | None = None
        self.points: str | None = None
        self.changes: list[tuple[float, str]] = []
        self.counts = {200: 0, 304: 0, "other": 0}

    async def run(self, stop: threading.Event) -> None:
        next_at = time.monotonic() + self.offset
        while not stop.is_set():
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += POLL_SECONDS
            try:
                await asyncio.wait_for(self.poll(), timeout=30)
            except (OSError, TimeoutError):
                self.counts["other"] += 1

    async def poll(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        etag = f"If-None-Match: {self.etag}\r\n" if self.etag else ""
        request = f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{etag}Connection: close\r\n\r\n"
        writer.write(request.encode())
        raw = await reader.read()
        writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        if status == 304:
            self.counts[304] += 1
            return
        if status != 200:
            self.counts["other"] += 1
            return
        self.counts[200] += 1
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"etag":
                self.etag = value.strip().decode()
        found = POINTS.search(body)
        points = found.group(1).decode() if found else ""
        if points != self.points:
            self.points = points
            self.changes.append((time.monotonic(), points))


def open_pages(pages: list[Page], stop: threading.Event) -> threading.Thread:
    """All pages on one asyncio loop in a thread of its own (500 threads would spend the
    client's CPU on the GIL, not on the requests)."""

    async def everyone() -> None:
        await asyncio.gather(*(page.run(stop) for page in pages))

    thread = threading.Thread(target=lambda: asyncio.run(everyone()), daemon=True)
    thread.start()
    return thread


class Ingestion(threading.Thread):
    """Batches of 1000 background events at `rate` events/s (and markers, when given)."""

    def __init__(self, api: Api, agents: list[str], rate: float, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.api, self.agents, self.rate, self.stop = api, agents, rate, stop
        self.markers: list[tuple[str, float]] = []  # (agent, time of its 202)
        self.quiet: list[str] = []
        self.sent = 0
        self.failed = 0

    def run(self) -> None:
        rng = random.Random(5)
        interval = 1000 / self.rate
        n = 0
        while not self.stop.is_set():
            tick = time.monotonic()
            events = [call(rng.choice(self.agents), f"bg-{tick}-{i}") for i in range(1000)]
            marked = None
            if self.quiet:
                marked = self.quiet[n % len(self.quiet)]
                events[-1] = call(marked, f"marker-{tick}")
            try:
                status, body = self.api.request("POST", "/api/v1/events", {"events": events})
            except OSError:
                self.failed += 1
                continue
            if status != 202:
                raise RuntimeError(f"{status}: {body}")
            if marked:
                self.markers.append((marked, time.monotonic()))
            self.sent += 1000
            n += 1
            time.sleep(max(0.0, interval - (time.monotonic() - tick)))


def measure_ceiling(api: Api, agents: list[str], batches: int) -> float:
    """Applied events/s with batches posted back to back from two clients."""

    def post(share: int) -> None:
        for b in range(share, batches, 2):
            events = [call(random.choice(agents), f"ceiling-{b}-{i}") for i in range(1000)]
            status, body = api.request("POST", "/api/v1/events", {"events": events})
            assert status == 202, body

    started = time.monotonic()
    clients = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    wait_until(lambda: api.pending() == 0, timeout=600, what="pending = 0")
    return batches * 1000 / (time.monotonic() - started)


def _cpu_of(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each root process and its descendants (this run's only: the
    machine may run other gunicorns and workers, which CpuMeter would count too)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    totals = {}
    for kind, root in roots.items():
        total = 0.0
        for pid, seconds in used.items():
            node = pid
            while node > 1 and node != root:
                node = parents.get(node, 0)
            if node == root:
                total += seconds
        totals[kind] = total
    return totals


def phase(name: str, seconds: float, roots: dict[str, int]) -> dict[str, Any]:
    before = _cpu_of(roots)
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    after = _cpu_of(roots)
    result = {"name": name, "elapsed": elapsed}
    result.update({k: (after[k] - before[k]) / elapsed for k in roots})
    print(
        f"  {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in result.items() if k != "name"),
        flush=True,
    )
    return result


def report_polls(label: str, counts: list[dict[Any, int]], result: dict[str, Any]) -> None:
    ok = sum(x[200] for x in counts)
    not_modified = sum(x[304] for x in counts)
    other = sum(x["other"] for x in counts)
    total = max(1, ok + not_modified + other)
    print(
        f"  {label}: {total / result['elapsed']:.0f} polls/s answered, {not_modified / total:.0%} "
        f"of them 304, {ok / result['elapsed']:.0f} renders/s, {other} errors or timeouts",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--quiet", type=int, default=40, help="agents only markers touch")
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument(
        "--roster",
        type=int,
        default=0,
        help="agents the background traffic names (default: the carded agents only)",
    )
    parser.add_argument("--ceiling-batches", type=int, default=30)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--database", default="gamify_bench_widgets")
    args = parser.parse_args()

    database_url = recreate_database(args.database)
    workdir = ROOT / "var" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    redis = Redis(workdir)
    redis.start()
    stack = Stack(database_url, redis, web_workers=args.web_workers, CONN_MAX_AGE="600")
    stop = threading.Event()
    try:
        stack.manage("migrate", "--noinput")
        out = stack.manage("create_tenant", "--name", "Bench", "--timezone", TZ, "--json")
        key = json.loads(out.strip().splitlines()[-1])["api_key"]
        stack.start_web()
        stack.start_worker()
        api = Api(stack.port, key)
        web, worker = stack.processes[0].pid, stack.processes[1].pid
        roots = {"gunicorn": web, "Celery": worker}
        rule = {"name": "Per contact", "kpi": "contacts_handled", "kind": "per_unit", "points": 1}
        assert api.request("POST", "/api/v1/point-rules", rule)[0] == 201
        agents = [f"agent-{n:04d}" for n in range(args.pages)]
        first = [call(a, f"first-{a}") for a in agents]
        assert api.request("POST", "/api/v1/events", {"events": first})[0] == 202
        wait_until(lambda: api.pending() == 0, timeout=120, what="agents created")
        tokens = []
        for agent in agents:
            status, body = api.request(
                "POST", "/api/v1/widget-tokens", {"agent": agent, "ttl_seconds": 86400}
            )
            assert status == 201, body
            tokens.append(body["token"])
        quiet, busy = agents[: args.quiet], agents[args.quiet :]
        busy += [f"other-{n:05d}" for n in range(max(0, args.roster - len(agents)))]

        print(f"Measuring the ingestion ceiling ({args.ceiling_batches} batches of 1000)…")
        ceiling = measure_ceiling(api, busy, args.ceiling_batches)
        rate = ceiling / 2
        print(f"ceiling {ceiling:,.0f} events/s applied; running at {rate:,.0f} events/s")

        results = []
        # A: ingestion alone
        ingest_stop = threading.Event()
        ingestion = Ingestion(api, busy, rate, ingest_stop)
        ingestion.start()
        time.sleep(3)
        results.append(phase("A ingestion alone", args.seconds, roots))
        # B: ingestion + 500 cards (+ markers for the quiet agents)
        pages = [
            Page(stack.port, token, POLL_SECONDS * n / len(tokens)) for n, token in
            enumerate(tokens)
        ]  # fmt: skip
        open_pages(pages, stop)
        time.sleep(POLL_SECONDS * 2)  # every page has its first rendering
        counts_before = [dict(p.counts) for p in pages]
        ingestion.quiet = quiet
        sent_before = ingestion.sent
        results.append(phase(f"B ingestion + {len(pages)} cards", args.seconds, roots))
        ingestion.quiet = []
        markers = list(ingestion.markers)
        counts_b = [
            {k: p.counts[k] - before[k] for k in p.counts}
            for p, before in zip(pages, counts_before, strict=True)
        ]
        ingest_stop.set()
        report_polls("B", counts_b, results[-1])
        print(
            f"  B: background ingestion managed "
            f"{(ingestion.sent - sent_before) / args.seconds:,.0f} events/s "
            f"of the {rate:,.0f} asked",
            flush=True,
        )
        try:
            wait_until(lambda: api.pending() == 0, timeout=300, what="pending = 0")
        except TimeoutError:
            print("  (the backlog did not drain in 300 s; C runs with it)")
        time.sleep(POLL_SECONDS * 2)
        # C: 500 cards, nothing changing
        counts_before = [dict(p.counts) for p in pages]
        results.append(phase(f"C {len(pages)} cards, no ingestion", args.seconds, roots))
        counts_c = [
            {k: p.counts[k] - before[k] for k in p.counts}
            for p, before in zip(pages, counts_before, strict=True)
        ]
        stop.set()
    finally:
        stop.set()
        stack.stop()
        redis.stop()

    by_agent = dict(zip(agents, pages, strict=True))
    latencies = []
    seen: dict[str, int] = {}
    for agent, at in markers:
        page = by_agent[agent]
        # the n-th marker for an agent shows as the page's n-th change after its first render
        index = seen.get(agent, 0) + 1
        seen[agent] = index
        later = [t for t, _ in page.changes[1:]]
        if index <= len(later):
            latencies.append(later[index - 1] - at)
    print()
    print(
        f"{len(pages)} agent cards polling every {POLL_SECONDS:.0f} s (ETag/304), gunicorn "
        f"{args.web_workers} sync workers, 1 Celery worker; ingestion at {rate:,.0f} events/s "
        f"(half the measured {ceiling:,.0f}) over {len(busy) + len(quiet):,} agents"
    )
    for result in results:
        print(
            f"  {result['name']:<32} web {result['gunicorn']:.2f} cores, worker "
            f"{result['Celery']:.2f} cores"
        )
    a, b, c = results
    report_polls("C", counts_c, c)
    print(
        f"  background events sent in A+B: {ingestion.sent:,} ({ingestion.failed} POSTs timed out)"
    )
    print(f"  the 500 cards cost the web: {b['gunicorn'] - a['gunicorn']:.2f} cores under "
          f"ingestion (B − A), {c['gunicorn']:.2f} cores idle (C)")  # fmt: skip
    if latencies:
        print(
            f"  event 202 → change on the card: p50 {percentile(latencies, 50):.2f} s, "
            f"p95 {percentile(latencies, 95):.2f} s ({len(latencies)} of {len(markers)} markers "
            "seen)"
        )
    else:
        print(f"  no marker was seen on its card ({len(markers)} sent)")


if __name__ == "__main__":
    main()
