"""Widgets benchmark (issue 16): 500 open agent cards live while ingestion runs at half its
measured ceiling, by conditional polling (ETag / 304, what widgets.js does) and by
server-sent events (the `/widgets/agent/events` prototype), in one run.

PostgreSQL + a private Redis + gunicorn (sync workers) + one Celery worker. 500 agents, a
"1 point per contact" rule, one widget token each. A polling page does what widgets.js does:
GET `/widgets/agent?token=…&fragment=1&patch=1` every 2 s with `If-None-Match` (a JSON
answer is the card's standings alone, which widgets.js writes into the page); an SSE page holds
`/widgets/agent/events?token=…` open and reconnects 1 s after a stream ends, as EventSource
does. Phases, each `--seconds` long:

* A  ingestion alone at half its ceiling (the bare baseline: web CPU without any page);
* B  the same ingestion with the 500 cards polling: web CPU, 304 share, and the time from an
     event's 202 to the change on the card of the agent it names (marker events for agents
     the background traffic leaves alone, so the change can only be the marker's);
* C  the 500 cards polling with no ingestion: what idle polling (all 304) costs;
* D  (unless --no-sse) the same ingestion with the 500 cards on server-sent events instead:
     how many streams a sync worker pool serves, web CPU, 202 → change on the card.

    .venv/bin/python bench/widgets.py [--pages 500] [--seconds 40] [--web-workers 3]
        [--widget-workers 0] [--widget-threads 1] [--roster 0] [--ceiling N] [--no-sse]

`--widget-workers N` serves the pages from a gunicorn of their own with N workers of
`--widget-threads` threads (config/gunicorn.py, as README's deployment notes run production;
the API and its ingestion keep `--web-workers` sync workers).
Needs PostgreSQL on 127.0.0.1:5432 (user postgres); the database `--database` (default
`gamify_bench_widgets`) is dropped and recreated.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import percentile, recreate_database
from bench.stack import ROOT, Redis, Stack, free_port, wait_until

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
        self.port, self.path = port, f"/widgets/agent?token={token}&fragment=1&patch=1"
        self.offset = offset
        self.etag: str | None = None
        self.points: str | None = None
        self.changes: list[tuple[float, str]] = []
        self.counts = {200: 0, 304: 0, "patch": 0, "other": 0}

    async def run(self, stop: threading.Event) -> None:
        next_at = time.monotonic() + self.offset
        while not stop.is_set():
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += POLL_SECONDS
            try:
                # widgets.js's fetch has no timeout and never overlaps its polls: a page
                # that gave up and asked again would only queue dead work at the server.
                await asyncio.wait_for(self.poll(), timeout=120)
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
        json = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"etag":
                self.etag = value.strip().decode()
            elif name.lower() == b"content-type":
                json = value.strip().startswith(b"application/json")
        if json:  # the card's standings alone (its points did not move): widgets.js patches
            self.counts["patch"] += 1
            return
        self.counts[200] += 1
        found = POINTS.search(body)
        points = found.group(1).decode() if found else ""
        if points != self.points:
            self.points = points
            self.changes.append((time.monotonic(), points))


class Stream:
    """One open agent card on server-sent events: holds `/widgets/agent/events` open, notes
    when its points changed, and reconnects 1 s after a stream ends (EventSource's retry)."""

    def __init__(self, port: int, token: str, offset: float) -> None:
        self.port, self.path = port, f"/widgets/agent/events?token={token}"
        self.offset = offset
        self.points: str | None = None
        self.changes: list[tuple[float, str]] = []
        self.asked_at: float | None = None
        self.first_at: float | None = None  # the first event of the first stream
        self.events = 0
        self.counts = {"streams": 0, "other": 0}

    async def run(self, stop: threading.Event) -> None:
        await asyncio.sleep(self.offset)
        while not stop.is_set():
            try:
                await self.stream(stop)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                if not stop.is_set():  # not the connections the end of the phase cut
                    self.counts["other"] += 1
            await asyncio.sleep(1.0)

    async def stream(self, stop: threading.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        # HTTP/1.0: the stream comes unchunked and ends when the server closes it.
        writer.write(f"GET {self.path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        if self.asked_at is None:
            self.asked_at = time.monotonic()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                self.counts["other"] += 1
                return
            self.counts["streams"] += 1
            buffer = b""
            while not stop.is_set():
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), timeout=1.0)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buffer += chunk
                while b"\n\n" in buffer:
                    event, buffer = buffer.split(b"\n\n", 1)
                    self.seen(event)
        finally:
            writer.close()

    def seen(self, event: bytes) -> None:
        found = POINTS.search(event)
        if found is None:
            return  # the retry line
        self.events += 1
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
        points = found.group(1).decode()
        if points != self.points:
            self.points = points
            self.changes.append((now, points))


def open_pages(pages: list[Any], stop: threading.Event) -> threading.Thread:
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
    patches = sum(x.get("patch", 0) for x in counts)
    other = sum(x["other"] for x in counts)
    total = max(1, ok + not_modified + patches + other)
    print(
        f"  {label}: {total / result['elapsed']:.0f} polls/s answered, {not_modified / total:.0%} "
        f"of them 304, {patches / total:.0%} standings answers, "
        f"{ok / result['elapsed']:.0f} renders/s, {other} errors or timeouts",
        flush=True,
    )


def warm(pages: list[Any], what: str, timeout: float = 180) -> None:
    """Until every page has its first rendering (500 cold cards take a while to build)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if all(p.changes for p in pages):
            break
        time.sleep(0.5)
    ready = sum(1 for p in pages if p.changes)
    print(f"  {ready} of {len(pages)} {what} cards rendered after "
          f"{time.monotonic() - started:.0f} s", flush=True)  # fmt: skip


def start_widgets_web(
    stack: Stack, workers: int, threads: int
) -> tuple[subprocess.Popen[bytes], int]:
    """The widget pages' own gunicorn, as README's deployment runs it (config/gunicorn.py, the
    same app and settings, `workers` processes of `threads` threads), on another port."""
    port = stack.start_web(port=free_port(), workers=workers, threads=threads, name="widgets")
    return stack.processes[-1], port


def http_ok(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    finally:
        conn.close()


def latencies_of(markers: list[tuple[str, float]], by_agent: dict[str, Any]) -> list[float]:
    """202 → change on the card: the n-th marker for an agent shows as its page's n-th change
    after the page's first rendering."""
    out = []
    seen: dict[str, int] = {}
    for agent, at in markers:
        page = by_agent[agent]
        index = seen.get(agent, 0) + 1
        seen[agent] = index
        later = [t for t, _ in page.changes[1:]]
        if index <= len(later):
            out.append(later[index - 1] - at)
    return out


def delta(pages: list[Any], before: list[dict[Any, int]]) -> list[dict[Any, int]]:
    return [{k: p.counts[k] - b[k] for k in p.counts} for p, b in zip(pages, before, strict=True)]


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
    parser.add_argument(
        "--ceiling",
        type=float,
        default=0,
        help="events/s applied, measured before (skips measuring it): runs comparable on a "
        "shared machine, whose measured ceiling moves with the load",
    )
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument(
        "--widget-workers", type=int, default=0, help="the pages' own gunicorn (0: the API's)"
    )
    parser.add_argument(
        "--widget-threads",
        type=int,
        default=1,
        help="threads per widget worker (1: sync workers, what docker-compose.yml's widgets "
        "service runs)",
    )
    parser.add_argument("--no-sse", action="store_true", help="skip phase D")
    parser.add_argument("--database", default="gamify_bench_widgets")
    args = parser.parse_args()

    database_url = recreate_database(args.database)
    workdir = ROOT / "var" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    redis = Redis(workdir)
    redis.start()
    stack = Stack(database_url, redis, web_workers=args.web_workers, CONN_MAX_AGE="600")
    stop = threading.Event()
    streams: list[Stream] = []
    markers_d: list[tuple[str, float]] = []
    try:
        stack.manage("migrate", "--noinput")
        out = stack.manage("create_tenant", "--name", "Bench", "--timezone", TZ, "--json")
        key = json.loads(out.strip().splitlines()[-1])["api_key"]
        stack.start_web()
        stack.start_worker()
        api = Api(stack.port, key)
        web, worker = stack.processes[0].pid, stack.processes[1].pid
        roots = {"gunicorn": web, "Celery": worker}
        page_port = stack.port
        if args.widget_workers:
            widgets_web, page_port = start_widgets_web(
                stack, args.widget_workers, args.widget_threads
            )
            roots["widgets"] = widgets_web.pid
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

        if args.ceiling:
            ceiling = args.ceiling
        else:
            print(f"Measuring the ingestion ceiling ({args.ceiling_batches} batches of 1000)…")
            ceiling = measure_ceiling(api, busy, args.ceiling_batches)
        rate = ceiling / 2
        print(f"ceiling {ceiling:,.0f} events/s applied; running at {rate:,.0f} events/s")

        results = {}
        # A: ingestion alone
        ingest_stop = threading.Event()
        ingestion = Ingestion(api, busy, rate, ingest_stop)
        ingestion.start()
        time.sleep(3)
        sent_before = ingestion.sent
        results["A"] = phase("A ingestion alone", args.seconds, roots)
        sent_a = ingestion.sent - sent_before
        # B: ingestion + 500 polling cards (+ markers for the quiet agents)
        pages = [
            Page(page_port, token, POLL_SECONDS * n / len(tokens)) for n, token in
            enumerate(tokens)
        ]  # fmt: skip
        polling = threading.Event()
        open_pages(pages, polling)
        warm(pages, "polling")
        counts_before = [dict(p.counts) for p in pages]
        ingestion.quiet = quiet
        sent_before = ingestion.sent
        results["B"] = phase(f"B ingestion + {len(pages)} polling", args.seconds, roots)
        ingestion.quiet = []
        markers_b = list(ingestion.markers)
        counts_b = delta(pages, counts_before)
        sent_b = ingestion.sent - sent_before
        ingest_stop.set()
        report_polls("B", counts_b, results["B"])
        try:
            wait_until(lambda: api.pending() == 0, timeout=300, what="pending = 0")
        except TimeoutError:
            print("  (the backlog did not drain in 300 s; C runs with it)")
        time.sleep(POLL_SECONDS * 2)
        # C: 500 polling cards, nothing changing
        counts_before = [dict(p.counts) for p in pages]
        results["C"] = phase(f"C {len(pages)} polling, no ingestion", args.seconds, roots)
        counts_c = delta(pages, counts_before)
        polling.set()
        time.sleep(POLL_SECONDS + 1)
        sent_d = 0
        if not args.no_sse:
            # D: ingestion + 500 cards on server-sent events (+ markers)
            streams = [Stream(page_port, t, 1.0 * n / len(tokens)) for n, t in enumerate(tokens)]
            streaming = threading.Event()
            open_pages(streams, streaming)
            ingest_stop = threading.Event()
            ingestion = Ingestion(api, busy, rate, ingest_stop)
            ingestion.start()
            warm(streams, "SSE", timeout=60)
            ingestion.quiet = quiet
            sent_before = ingestion.sent
            results["D"] = phase(f"D ingestion + {len(streams)} SSE", args.seconds, roots)
            ingestion.quiet = []
            markers_d = list(ingestion.markers)
            sent_d = ingestion.sent - sent_before
            ingest_stop.set()
            streaming.set()
    finally:
        stop.set()
        stack.stop()
        redis.stop()

    print()
    where = (
        f"their own gunicorn ({args.widget_workers} workers × {args.widget_threads} "
        f"threads; the API {args.web_workers} sync)" if args.widget_workers
        else f"the API's gunicorn ({args.web_workers} sync workers)"
    )  # fmt: skip
    print(
        f"{len(pages)} agent cards served by {where}, 1 Celery worker; ingestion at "
        f"{rate:,.0f} events/s (half the {'given' if args.ceiling else 'measured'} "
        f"{ceiling:,.0f}) over "
        f"{len(busy) + len(quiet):,} agents"
    )
    for result in results.values():
        cores = ", ".join(f"{k} {result[k]:.2f}" for k in roots)
        print(f"  {result['name']:<36} cores: {cores}")
    web_kinds = [k for k in roots if k != "Celery"]

    def web_cores(result: dict[str, Any]) -> float:
        return sum(result[k] for k in web_kinds)

    a, b, c = results["A"], results["B"], results["C"]
    managed = f"A {sent_a / a['elapsed']:,.0f}, B {sent_b / b['elapsed']:,.0f}"
    if "D" in results:
        managed += f", D {sent_d / results['D']['elapsed']:,.0f}"
    print(f"  ingestion managed (events/s of the {rate:,.0f} asked): {managed}")
    print("Polling (ETag / 304, every 2 s):")
    report_polls("B", counts_b, b)
    report_polls("C", counts_c, c)
    print(
        f"  web CPU of the {len(pages)} cards: {web_cores(b) - web_cores(a):.2f} cores under "
        f"ingestion (B − A: {web_cores(b):.2f} − {web_cores(a):.2f}), "
        f"{web_cores(c):.2f} cores idle (C); "
        f"B/A {web_cores(b) / max(web_cores(a), 0.01):.1f}×"
    )
    show_latency(latencies_of(markers_b, dict(zip(agents, pages, strict=True))), len(markers_b))
    if "D" in results:
        d = results["D"]
        print("Server-sent events (one stream per card, each held up to 25 s):")
        served = [s for s in streams if s.first_at is not None]
        waits = [s.first_at - s.asked_at for s in served if s.asked_at is not None]  # type: ignore[operator]
        print(
            f"  D: {len(served)} of {len(streams)} cards got their first event "
            f"({sum(1 for w in waits if w <= 5)} within 5 s of opening), "
            f"{sum(s.counts['streams'] for s in streams)} streams served, "
            f"{sum(s.events for s in streams)} events, "
            f"{sum(s.counts['other'] for s in streams)} errors"
        )
        print(
            f"  web CPU of the {len(streams)} cards: {web_cores(d) - web_cores(a):.2f} cores under "
            f"ingestion (D − A: {web_cores(d):.2f} − {web_cores(a):.2f}); D/A "
            f"{web_cores(d) / max(web_cores(a), 0.01):.1f}×"
        )
        show_latency(
            latencies_of(markers_d, dict(zip(agents, streams, strict=True))), len(markers_d)
        )


def show_latency(latencies: list[float], markers: int) -> None:
    if latencies:
        print(
            f"  event 202 → change on the card: p50 {percentile(latencies, 50):.2f} s, "
            f"p95 {percentile(latencies, 95):.2f} s ({len(latencies)} of {markers} markers seen)"
        )
    else:
        print(f"  no marker was seen on its card ({markers} sent)")


if __name__ == "__main__":
    main()
