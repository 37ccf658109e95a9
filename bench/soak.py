"""Soak (issue 19): everything at once for a few minutes, and what it leaves behind.

PostgreSQL + a private Redis + gunicorn (config/gunicorn.py's workers and threads) + the plain
Celery worker + beat, on loopback. It seeds a floor at work (a call and a survey for every
agent, so every board the soak moves has every agent on it; every card opened, its page and
first poll), measures the ingest ceiling (a burst of the soak's own batches of 1000 from 4
clients; with `--ceiling` taken from bench/ingest.py, a 5 s burst that only warms
ingestion), then runs at the same time, for
`--minutes`:
* events at half that ceiling, as a platform sends them: batches of `--batch` (1000, the API's
  limit) falling due at that rate whatever became of the last one, taken by `--posters` ×
  `--senders` connections (a batch no sender could take before the deadline is counted, not
  sent late);
* leaderboard and profile reads from `--readers` (32) clients with an API key;
* `--widgets` (500) agents' cards on the widget live mechanism, as widgets.js runs it: the page
  once, then its live region (`?fragment=1&patch=1`) every `--widget-interval` (2) seconds
  with If-None-Match (a 304, the standings alone as JSON, or the region),
  a poll skipped while the last one is still on its way. The cards are served
  by web workers of their own (`--widget-workers`, a second gunicorn on another port, as a
  proxy routing `/widgets/` would), so their renderings queue behind each other, not in front
  of ingestion; `--widget-workers 0` serves them from the API's workers.
It prints, every 10 s: throughput, p95 per client kind, errors, the pending backlog and Redis'
data and RSS; at the end: p50/p95/p99 per endpoint, widget polls answered of those due,
errors, the backlog over time, each process's RSS at the start, after `--warmup` seconds and
at the end, what Redis holds (data beside RSS, keys by family, those without a TTL, queue
lengths), the CPU each kind of process used, and the targets — the event rate, 0 errors, 0
events lost (raw rows = events sent), backlog bounded (no growth from the first half to the
second, and drained within a minute after), RSS growth < 10 %.

    flock /tmp/gamify-bench.lock .venv/bin/python bench/soak.py --database gamify_soak_mine

Needs PostgreSQL on 127.0.0.1:5432 (user postgres); the database named is dropped and
recreated. Every loop is bounded by the deadline; the whole run takes `--minutes` + ~3 min.
`BENCH_PORTS=8500-8599` keeps its servers to that range.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import random
import re
import runpy
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
import redis as redis_py

from bench.ingest import percentile, recreate_database
from bench.stack import ROOT, CpuMeter, Redis, Stack, free_port, wait_until

TZ = "Asia/Shanghai"
REPORT_EVERY = 5.0  # seconds between a client process's reports to the parent
PRINT_EVERY = 10.0

# What an open agent card does (gamify/widgets/static/widgets/widgets.js): the page once, then
# every `data-poll` seconds (2) its live region, `?fragment=1&patch=1`, with If-None-Match; a
# 304 means nothing it shows changed, a JSON answer that only its standings did.
# A poll due while the last one is still on its way is skipped, as
# the page's `busy` flag does.
WIDGET_PAGE = "/widgets/agent?token={token}"
WIDGET_POLL = "/widgets/agent?token={token}&fragment=1&patch=1"
READER_REQUESTS = [
    ("board points", "/api/v1/leaderboards?metric=points&period={period}&around={agent}"),
    ("board kpi", "/api/v1/leaderboards?metric={kpi}&period={period}&limit=20"),
    ("profile", "/api/v1/agents/{agent}/profile"),
    ("profile", "/api/v1/agents/{agent}/profile"),
    # The bare baseline, under the same load at the same moment: an authenticated endpoint
    # that reads nothing. What it costs is queueing and the machine, not the endpoints.
    ("bare /whoami", "/api/v1/whoami"),
]
KPIS = ["aht", "fcr", "csat", "contacts_handled", "service_level"]


def run_threads(target: Any, count: int) -> None:
    """`target(n)` for n in range(count), each in its own thread, all joined."""
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def reader_path(rng: random.Random, template: str, agents: int) -> str:
    """A reader's request: a random agent, period and KPI in one of READER_REQUESTS."""
    return template.format(agent=f"soak-{rng.randrange(agents):04d}",
                           period=rng.choice(["day", "week", "month"]),
                           kpi=rng.choice(KPIS))  # fmt: skip


# --- load: each kind in its own process (the GIL would otherwise time one against another) --
class Recorder:
    """Latencies and errors per endpoint since the last report, sent to the parent."""

    def __init__(self, kind: str, queue: Any) -> None:
        self.kind, self.queue = kind, queue
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.samples: list[str] = []
        self.events = 0
        self.last = time.monotonic()

    def ok(self, endpoint: str, seconds: float, events: int = 0) -> None:
        with self.lock:
            self.latencies[endpoint].append(seconds)
            self.events += events
        self.maybe_report()

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def error(self, endpoint: str, what: str) -> None:
        with self.lock:
            self.errors[f"{endpoint}: {what[:80]}"] += 1
            if len(self.samples) < 3:
                self.samples.append(f"{endpoint}: {what[:300]}")
        self.maybe_report()

    def maybe_report(self, *, force: bool = False) -> None:
        with self.lock:
            if not force and time.monotonic() - self.last < REPORT_EVERY:
                return
            self.queue.put({"kind": self.kind, "latencies": dict(self.latencies),
                            "errors": dict(self.errors), "samples": self.samples,
                            "counts": dict(self.counts), "events": self.events})  # fmt: skip
            self.latencies, self.errors, self.samples = defaultdict(list), Counter(), []
            self.counts = Counter()
            self.events, self.last = 0, time.monotonic()


def request(
    conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str],
    body: bytes | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:  # fmt: skip
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read(), response


def make_batch(rng: random.Random, prefix: str, batch: int, agents: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = []
    for i in range(batch):
        agent = f"soak-{rng.randrange(agents):04d}"
        at = (now - timedelta(seconds=rng.randrange(600))).isoformat()
        if i % 10 == 9:
            events.append({"event_id": f"{prefix}-{i}", "type": "survey", "occurred_at": at,
                           "agent": agent, "csat": rng.randint(1, 5)})  # fmt: skip
        else:
            answered = rng.random() < 0.95
            events.append({"event_id": f"{prefix}-{i}", "type": "interaction",
                           "occurred_at": at, "agent": agent, "channel": "voice",
                           "answered": answered, "abandoned": not answered,
                           "wait_seconds": rng.randrange(60),
                           "talk_seconds": rng.randrange(60, 600) if answered else 0,
                           "resolved_first_contact": rng.random() < 0.7})  # fmt: skip
    return events


def seed_batch(agents: int) -> list[dict[str, Any]]:
    """A call and a survey for every agent, a quarter of an hour ago: every board the soak
    reads or moves has each agent on it before the load starts (a floor at work), so what
    the soak's RSS and Redis figures show is what the load adds, not the first events of a
    new tenant's day."""
    at = (datetime.now(UTC) - timedelta(minutes=15)).isoformat()
    events: list[dict[str, Any]] = []
    for a in range(agents):
        agent = f"soak-{a:04d}"
        events.append({"event_id": f"seed-call-{a}", "type": "interaction", "occurred_at": at,
                       "agent": agent, "channel": "voice", "answered": True,
                       "abandoned": False, "wait_seconds": 10, "talk_seconds": 200,
                       "resolved_first_contact": True})  # fmt: skip
        events.append({"event_id": f"seed-survey-{a}", "type": "survey", "occurred_at": at,
                       "agent": agent, "csat": 4})  # fmt: skip
    return events


def post_events(port: int, key: str, rate: float, batch: int, agents: int, poster: int,
                senders: int, deadline: float, queue: Any) -> None:  # fmt: skip
    """A platform sending its events as they happen: a batch falls due every batch/rate
    seconds whatever became of the last one (open loop), and `senders` connections take
    the batches due, so one slow answer does not hold the others back. When every sender
    is busy, batches wait: the lag shows as a rate below the target."""
    recorder = Recorder("events", queue)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json",
               "Connection": "close"}  # fmt: skip
    interval, start = batch / rate, time.monotonic()
    slots = iter(range(10**9))
    lock = threading.Lock()

    def sender(n: int) -> None:
        rng = random.Random(poster * 1000 + n)
        while True:
            with lock:
                slot = next(slots)
            at = start + slot * interval
            if at >= deadline or time.monotonic() >= deadline:
                # Batches due before the deadline that no sender got to in time are not sent
                # after it: the rate counts what went out within the soak.
                if at < deadline:
                    recorder.count("event batches due but not sent (every sender busy)")
                    continue
                return
            time.sleep(max(0.0, at - time.monotonic()))
            body = json.dumps({"events": make_batch(rng, f"p{poster}-{slot}", batch, agents)})
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                status, reply, _ = request(conn, "POST", "/api/v1/events", headers,
                                           body.encode())  # fmt: skip
                accepted = json.loads(reply).get("accepted", 0) if status == 202 else 0
                if status == 202 and accepted == batch:
                    recorder.ok("POST /events", time.perf_counter() - started, events=batch)
                else:
                    recorder.error("POST /events", f"{status} accepted={accepted} {reply[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                recorder.error("POST /events", repr(exc))
            finally:
                conn.close()

    run_threads(sender, senders)
    recorder.maybe_report(force=True)


def read_loop(port: int, key: str, clients: int, agents: int, think: float, deadline: float,
              queue: Any) -> None:  # fmt: skip
    """`clients` API clients, each a thread with its own connection, reading boards and
    profiles with `think` seconds between requests."""
    recorder = Recorder("readers", queue)

    def client(n: int) -> None:
        rng = random.Random(1000 + n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {key}"}
        while time.monotonic() < deadline:
            name, template = rng.choice(READER_REQUESTS)
            path = reader_path(rng, template, agents)
            started = time.perf_counter()
            try:
                try:
                    status, body, _ = request(conn, "GET", path, headers)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # The server closed the kept-alive connection as the request went out (its
                    # keep-alive timeout): a GET is sent again on a new one, as HTTP clients do.
                    recorder.count("reads re-sent on a new connection (keep-alive closed)")
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    status, body, _ = request(conn, "GET", path, headers)
                if status == 200:
                    recorder.ok(name, time.perf_counter() - started)
                else:
                    recorder.error(name, f"{status} {body[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                recorder.error(name, repr(exc))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            time.sleep(think * rng.uniform(0.5, 1.5))

    run_threads(client, clients)
    recorder.maybe_report(force=True)


def first_reads(port: int, key: str, clients: int, agents: int) -> None:
    """Each of the `clients` readers' first requests, all at once — one of every kind the
    soak reads: the floor's readers are at work when the soak starts (their connections
    open, the web and Redis pools at the size that concurrency takes)."""
    barrier = threading.Barrier(clients)
    failures: list[str] = []

    def client(n: int) -> None:
        rng = random.Random(-1000 - n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        for name, template in READER_REQUESTS:
            path = reader_path(rng, template, agents)
            status, body, _ = request(conn, "GET", path, {"Authorization": f"Bearer {key}"})
            if status != 200:
                failures.append(f"{name} {status} {body[:200]!r}")
        conn.close()

    run_threads(client, clients)
    if failures:
        raise RuntimeError(f"first reads failed: {failures[:3]}")


def widget_loop(port: int, tokens: list[str], interval: float, deadline: float,
                queue: Any) -> None:  # fmt: skip
    """len(tokens) open agent cards, each polling its live region every `interval` s with
    If-None-Match (first polls spread over one interval), each on its own connection, in
    one asyncio loop: 500 pages need not be 500 threads."""
    recorder = Recorder("widgets", queue)

    async def page(n: int, token: str) -> None:
        path = WIDGET_POLL.format(token=token)
        etag: str | None = None
        busy = False
        next_at = time.monotonic() + interval * n / len(tokens)

        async def poll() -> None:
            nonlocal etag, busy
            busy = True
            started = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                conditional = f"If-None-Match: {etag}\r\n" if etag else ""
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{conditional}"
                             "Connection: close\r\n\r\n".encode())  # fmt: skip
                raw = await asyncio.wait_for(reader.read(), timeout=60)
                writer.close()
                head, _, body = raw.partition(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                parts = lines[0].split() if lines else []
                status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                if status in (200, 304):
                    recorder.ok(f"widget poll {status}", time.perf_counter() - started)
                    for line in lines[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"etag":
                            etag = value.strip().decode()
                else:
                    recorder.error("widget poll", f"{status} {body[:200]!r}")
            except (OSError, TimeoutError) as exc:
                recorder.error("widget poll", repr(exc))
            except asyncio.CancelledError:
                pass  # abandoned at the deadline, counted there
            finally:
                busy = False

        tasks = set()
        while True:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if next_at >= deadline:
                break
            next_at += interval
            if busy:
                recorder.count("widget polls skipped (the last one still on its way)")
                continue
            task = asyncio.ensure_future(poll())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:  # polls still on their way at the deadline get a few seconds, then go
            await asyncio.wait(tasks, timeout=5)
            for task in tasks:
                task.cancel()
                recorder.count("widget polls abandoned at the deadline (no answer yet)")

    async def run() -> None:
        await asyncio.gather(*(page(n, token) for n, token in enumerate(tokens)))

    asyncio.run(run())
    recorder.maybe_report(force=True)


def burst(args: tuple[int, str, int, int, float]) -> int:
    """The ceiling: batches of 1000 back to back until the deadline; returns events sent.

    The batches are the soak's own mix (`make_batch`: calls and surveys), so the ceiling is
    the rate of the traffic the soak sends, and every board the soak moves (the surveys'
    CSAT ones too) exists before its start, as on a floor that has been working."""
    port, key, client, agents, deadline = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    rng = random.Random(-1 - client)
    sent, n = 0, 0
    while time.monotonic() < deadline:
        events = make_batch(rng, f"ceiling-{client}-{n}", 1000, agents)
        n += 1
        status, body, _ = request(conn, "POST", "/api/v1/events", headers,
                                  json.dumps({"events": events}).encode())  # fmt: skip
        if status != 202:
            raise RuntimeError(f"ceiling burst: {status} {body[:300]!r}")
        sent += 1000
    return sent


# --- the stack's processes ------------------------------------------------------------------
def process_tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parents[int(entry.name)] = int(
                (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            )
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def rss(stack: Stack, redis: Redis) -> dict[str, int]:
    """RSS in KiB of each process of the stack, named by what it runs."""
    roots = [p.pid for p in stack.processes] + ([redis.process.pid] if redis.process else [])
    found: dict[str, int] = {}
    for root in roots:
        for pid in process_tree(root):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            words = [w.decode() for w in command if w]
            name = next((w for w in ("gunicorn", "worker", "beat", "redis-server")
                         if any(w in x for x in words)), words[0] if words else "?")  # fmt: skip
            kib = next(int(line.split()[1]) for line in status.splitlines()
                       if line.startswith("VmRSS:"))  # fmt: skip
            label = f"{name} {'parent' if pid == root else 'child'} {pid}"
            if name == "redis-server":
                label = f"redis-server {pid}"
            found[label] = kib
    return found


def redis_memory(redis: Redis) -> dict[str, Any]:
    """What Redis holds and what it costs: its data (`used_memory`) beside the process's RSS
    and the allocator's view, and the keys by family (digits folded), with how many of them
    have no TTL and the length of every stream and list (a queue or stream growing without
    bound is a leak; RSS above `used_memory` is the allocator's, not data)."""
    client = redis_py.Redis(port=redis.port)
    info = client.info("memory")
    families: Counter[str] = Counter()
    no_ttl: Counter[str] = Counter()
    sizes: Counter[str] = Counter()  # bytes, MEMORY USAGE of each key
    lengths: dict[str, int] = {}
    for db in range(16):
        if not client.info("keyspace").get(f"db{db}"):
            continue
        scoped = redis_py.Redis(port=redis.port, db=db)
        names = list(scoped.scan_iter(count=1000))
        # TTL, type and size of 100 keys per round trip: a key at a time held the soak's
        # parent for seconds under load (its reports from the clients left unread), and all
        # keys at once grew Redis' own buffers — the instrument weighing on what it measures.
        answers: list[Any] = []
        for offset in range(0, len(names), 100):
            pipe = scoped.pipeline(transaction=False)
            for raw in names[offset : offset + 100]:
                pipe.ttl(raw)
                pipe.type(raw)
                pipe.memory_usage(raw)
            answers += pipe.execute()
        for raw, ttl, kind, size in zip(
            names, answers[::3], answers[1::3], answers[2::3], strict=True
        ):
            family = f"db{db} " + re.sub(r"\d+", "#", raw.decode(errors="replace"))
            families[family] += 1
            sizes[family] += int(size or 0)
            if ttl == -1:
                no_ttl[family] += 1
            if kind in (b"list", b"stream"):
                length = scoped.llen(raw) if kind == b"list" else scoped.xlen(raw)
                lengths[family] = lengths.get(family, 0) + int(length)
    return {
        "used": info["used_memory"], "rss": info["used_memory_rss"],
        "fragmentation": info.get("mem_fragmentation_ratio"),
        "allocated": info.get("allocator_allocated"), "active": info.get("allocator_active"),
        "resident": info.get("allocator_resident"),
        # Part of used_memory: the connections' query and reply buffers (a pool that opens
        # more connections under load grows used_memory without a key more).
        "clients": info.get("mem_clients_normal"),
        "connections": client.info("clients").get("connected_clients"),
        # What each connection did last (CLIENT LIST's cmd): whose connections they are.
        "by_command": Counter(c.get("cmd", "?") for c in client.client_list()),
        "keys": sum(families.values()), "families": families, "no_ttl": no_ttl, "sizes": sizes,
        "lengths": lengths,
    }  # fmt: skip


def describe_redis(start: dict[str, Any], end: dict[str, Any]) -> list[str]:
    mib = 2**20
    lines = [f"  {'':<22} {'start':>10} {'end':>10}"]
    for name, label in (("used", "used_memory"), ("clients", " of it client buffers"),
                        ("rss", "used_memory_rss"),
                        ("allocated", "allocator allocated"), ("active", "allocator active"),
                        ("resident", "allocator resident")):  # fmt: skip
        if start.get(name) is not None and end.get(name) is not None:
            lines.append(f"  {label:<22} {start[name] / mib:8.1f}Mi {end[name] / mib:8.1f}Mi")
    frag = "fragmentation ratio"
    lines.append(f"  {frag:<22} {start['fragmentation']:10} {end['fragmentation']:10}")
    lines.append(f"  {'connections':<22} {start['connections']:10} {end['connections']:10}")
    commands = sorted(set(start["by_command"]) | set(end["by_command"]))
    lines.append(
        "    by last command: "
        + ", ".join(
            f"{c} {start['by_command'].get(c, 0)} → {end['by_command'].get(c, 0)}" for c in commands
        )
    )
    lines.append(f"  {'keys':<22} {start['keys']:10,d} {end['keys']:10,d}")
    for family in sorted(set(start["families"]) | set(end["families"])):
        a, b = start["families"].get(family, 0), end["families"].get(family, 0)
        ttl = end["no_ttl"].get(family, 0)
        length = end["lengths"].get(family)
        kib = start["sizes"].get(family, 0) / 1024, end["sizes"].get(family, 0) / 1024
        extra = f", {kib[0]:,.0f} → {kib[1]:,.0f} KiB"
        extra += f", {ttl} without TTL" if ttl else ""
        if length is not None:
            extra += f", length {start['lengths'].get(family, 0):,} → {length:,}"
        lines.append(f"    {family:<60} {a:6,d} → {b:6,d}{extra}")
    return lines


def board_live(conn: http.client.HTTPConnection, key: str, path: str) -> bool:
    _, _, response = request(conn, "GET", path, {"Authorization": f"Bearer {key}"})
    return response.getheader("X-Gamify-Source") == "live"


def raw_events(database_url: str) -> int:
    with psycopg.connect(database_url) as db:
        row = db.execute("SELECT count(*) FROM kpis_rawevent").fetchone()
    return int(row[0]) if row else 0


def pending(port: int, key: str) -> int:
    """Events stored and not yet applied (a new connection each time: none goes stale)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        status, body, _ = request(conn, "GET", "/api/v1/ingest/status",
                                  {"Authorization": f"Bearer {key}"})  # fmt: skip
    finally:
        conn.close()
    return int(json.loads(body)["pending"]) if status == 200 else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=60,
                        help="seconds of load after which RSS is taken a second time")  # fmt: skip
    parser.add_argument("--ceiling", type=float, default=0, help="events/s; 0 = measure it")
    parser.add_argument("--ceiling-seconds", type=float, default=20)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--readers", type=int, default=32)
    parser.add_argument("--think", type=float, default=0.2, help="readers' pause, seconds")
    parser.add_argument("--widgets", type=int, default=500)
    parser.add_argument("--widget-interval", type=float, default=2.0,
                        help="seconds between a card's polls (the page's data-poll)")  # fmt: skip
    parser.add_argument("--batch", type=int, default=1000, help="events per POST (API max 1000)")
    parser.add_argument("--posters", type=int, default=2, help="poster processes")
    parser.add_argument("--senders", type=int, default=8, help="connections per poster")
    parser.add_argument("--web-workers", type=int, default=0, help="0 = config/gunicorn.py's")
    parser.add_argument("--web-threads", type=int, default=0, help="0 = config/gunicorn.py's")
    parser.add_argument(
        "--widget-workers",
        type=int,
        default=3,
        help="the widgets' own gunicorn workers (0: served by the API's)",
    )
    parser.add_argument(
        "--widget-nice", type=int, default=0, help="nice level of the widgets' workers"
    )
    parser.add_argument("--database", default="gamify_soak")
    args = parser.parse_args()
    if args.minutes > 8:
        parser.error("--minutes: at most 8 (the whole run must stay under 10 minutes)")
    # The product's defaults unless told otherwise (read the way config/gunicorn.py reads them).
    web_config = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    workers = args.web_workers or web_config["workers"]
    threads = args.web_threads or web_config["threads"]

    database_url = recreate_database(args.database)
    workdir = ROOT / "var" / "soak"
    workdir.mkdir(parents=True, exist_ok=True)
    redis = Redis(workdir)
    redis.start()
    stack = Stack(database_url, redis, web_workers=workers, CONN_MAX_AGE="600")
    stack.web_threads = threads
    status_conn: http.client.HTTPConnection | None = None
    try:
        stack.manage("migrate", "--noinput", "-v0")
        stack.manage("collectstatic", "--noinput", "-v0")  # as the image does: the pages need it
        out = stack.manage("create_tenant", "--name", "Soak", "--timezone", TZ, "--json")
        key = json.loads(out.strip().splitlines()[-1])["api_key"]
        stack.start_web()
        widget_port = stack.port
        if args.widget_workers:
            widget_port = stack.start_web(
                port=free_port(), workers=args.widget_workers, threads=1,
                nice=args.widget_nice, name="widgets",
            )  # fmt: skip
        stack.start_worker(queues=None, prefork=True)  # the plain command: a prefork pool
        stack.start_beat(workdir / "beat.log")
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        rule = {"name": "2 per contact", "kpi": "contacts_handled", "kind": "per_unit",
                "points": 2, "period": "day"}  # fmt: skip
        assert (
            request(conn, "POST", "/api/v1/point-rules", auth, json.dumps(rule).encode())[0] == 201
        )
        for t in range(10):
            body = json.dumps({"name": f"Team {t}", "parent": None}).encode()
            request(conn, "PUT", f"/api/v1/teams/soak-team-{t}", auth, body)
        tokens: list[str] = []
        for a in range(args.agents):
            agent = f"soak-{a:04d}"
            person = {"display_name": f"Agent {a}", "team": f"soak-team-{a % 10}"}
            request(conn, "PUT", f"/api/v1/agents/{agent}", auth, json.dumps(person).encode())
        for w in range(args.widgets):
            agent = f"soak-{w % args.agents:04d}"
            body = json.dumps({"agent": agent, "ttl_seconds": 3600}).encode()
            status, reply, _ = request(conn, "POST", "/api/v1/widget-tokens", auth, body)
            assert status == 201, reply
            tokens.append(json.loads(reply)["token"])
        seed = seed_batch(args.agents)
        for offset in range(0, len(seed), 1000):
            body = json.dumps({"events": seed[offset : offset + 1000]}).encode()
            status, reply, _ = request(conn, "POST", "/api/v1/events", auth, body)
            assert status == 202, reply[:300]
            assert json.loads(reply)["rejected"] == [], reply[:300]
        status_conn = conn
        widgets_served = (
            f"the widgets on their own {args.widget_workers} sync workers (nice {args.widget_nice})"
            if args.widget_workers
            else "the widgets by the same workers"
        )
        print(f"stack up: gunicorn {workers} workers × {threads} threads, {widgets_served}, "
              f"the plain Celery worker, beat; {args.agents} agents, {len(tokens)} widget "
              "tokens", flush=True)  # fmt: skip

        # --- the ceiling ------------------------------------------------------------------
        # The burst runs either way: with `--ceiling` given, for 5 s and its rate unused, so
        # the web workers have ingested batches side by side before the start, as on a floor
        # at work (without it, their first concurrent batches grew them 9-10 % in the soak).
        seconds = 5.0 if args.ceiling else args.ceiling_seconds
        print(f"{'warming ingestion' if args.ceiling else 'measuring the ingest ceiling'} "
              f"({seconds:.0f} s, 4 clients, batches of 1000)…", flush=True)  # fmt: skip
        started = time.monotonic()
        deadline = started + seconds
        with multiprocessing.Pool(4) as pool:
            sent = sum(pool.map(burst, [(stack.port, key, c, args.agents, deadline)
                                        for c in range(4)]))  # fmt: skip
        ceiling = args.ceiling or sent / (time.monotonic() - started)
        print(f"ceiling: {ceiling:,.0f} events/s{' (given)' if args.ceiling else ' accepted'}; "
              "waiting for the backlog…", flush=True)  # fmt: skip
        wait_until(lambda: pending(stack.port, key) == 0, timeout=180, what="the backlog applied")
        rate = ceiling / 2
        before = raw_events(database_url)

        # --- the soak ---------------------------------------------------------------------
        print(f"soak: {args.minutes:g} min; events at {rate:,.0f}/s (half the ceiling) in "
              f"batches of {args.batch} from {args.posters}×{args.senders} connections, "
              f"{args.readers} readers (think {args.think} s), {len(tokens)} agent cards "
              f"polling every {args.widget_interval:g} s", flush=True)  # fmt: skip
        # Every board the clients read is read once (and so filled in Redis, to be kept live
        # from then on), every card is opened (the page and its first poll, as a browser
        # does) and the readers make their first requests: the soak starts on a floor at
        # work, every agent on every board (the seed).
        for metric in ["points", *KPIS]:
            for period in ("day", "week", "month"):
                path = f"/api/v1/leaderboards?metric={metric}&period={period}"
                wait_until(partial(board_live, conn, key, path), timeout=60, what=path)
        widget_conn = http.client.HTTPConnection("127.0.0.1", widget_port, timeout=60)
        for token in tokens:  # the page, then its first poll, as widgets.js does
            for template in (WIDGET_PAGE, WIDGET_POLL):
                status, reply, _ = request(widget_conn, "GET", template.format(token=token), {})
                assert status == 200, (status, reply[:300])
        first_reads(stack.port, key, args.readers, args.agents)
        # Redis is read before every RSS point, so each point's RSS includes what reading
        # Redis costs it (not the end's alone).
        redis_points = [("start", redis_memory(redis))]
        rss_points = [("start", rss(stack, redis))]
        queue: Any = multiprocessing.Queue()
        deadline = time.monotonic() + args.minutes * 60
        children = [
            multiprocessing.Process(target=post_events, args=(
                stack.port, key, rate / args.posters, args.batch, args.agents, p,
                args.senders, deadline, queue))
            for p in range(args.posters)
        ] + [
            multiprocessing.Process(target=read_loop, args=(
                stack.port, key, args.readers // 2, args.agents, args.think, deadline, queue))
            for _ in range(2)
        ] + [
            multiprocessing.Process(target=widget_loop, args=(
                widget_port, tokens, args.widget_interval, deadline, queue))
        ]  # fmt: skip
        totals: dict[str, list[float]] = defaultdict(list)
        errors: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        samples: list[str] = []
        events_sent = 0
        backlog: list[tuple[float, int]] = []
        redis_over_time: list[tuple[float, int, int]] = []
        began = time.monotonic()
        pools = (
            (("the widgets' gunicorn", f"127.0.0.1:{widget_port} "),) if args.widget_workers else ()
        )
        with CpuMeter(pools) as cpu:
            for child in children:
                child.start()
            window: dict[str, list[float]] = defaultdict(list)
            window_events, window_errors, last_print = 0, 0, began
            print(f"{'t':>5} {'events/s':>9} {'reads/s':>8} {'polls/s':>8} "
                  f"{'read p95':>9} {'poll p95':>9} {'POST p95':>9} {'errors':>7} "
                  f"{'pending':>8} {'redis used/rss':>15}", flush=True)  # fmt: skip
            while any(c.is_alive() for c in children) or not queue.empty():
                try:
                    report = queue.get(timeout=1)
                except Exception:  # queue.Empty: nothing this second
                    report = None
                if report:
                    for endpoint, values in report["latencies"].items():
                        totals[endpoint] += values
                        window[report["kind"]] += values
                    errors.update(report["errors"])
                    counts.update(report["counts"])
                    window_errors += sum(report["errors"].values())
                    samples += report["samples"]
                    events_sent += report["events"]
                    window_events += report["events"]
                now = time.monotonic()
                if len(rss_points) == 1 and now - began >= args.warmup:
                    redis_points.append((f"after {args.warmup:.0f} s", redis_memory(redis)))
                    rss_points.append((f"after {args.warmup:.0f} s", rss(stack, redis)))
                if now - last_print >= PRINT_EVERY:
                    span = now - last_print
                    backlog.append((now - began, pending(stack.port, key)))
                    info = redis_py.Redis(port=redis.port).info("memory")
                    redis_over_time.append(
                        (now - began, info["used_memory"], info["used_memory_rss"])
                    )

                    def p95(kind: str, values: dict[str, list[float]] = window) -> str:
                        found = values.get(kind)
                        return f"{percentile(found, 95) * 1000:.0f} ms" if found else "-"

                    print(f"{now - began:5.0f} {window_events / span:9,.0f} "
                          f"{len(window['readers']) / span:8,.0f} "
                          f"{len(window['widgets']) / span:8,.0f} {p95('readers'):>9} "
                          f"{p95('widgets'):>9} {p95('events'):>9} {window_errors:7d} "
                          f"{backlog[-1][1]:8,d} "
                          f"{info['used_memory'] / 2**20:6.1f}/"
                          f"{info['used_memory_rss'] / 2**20:.1f}Mi",
                          flush=True)  # fmt: skip
                    window, window_events, window_errors, last_print = defaultdict(list), 0, 0, now
                if now > deadline + 120:
                    break  # bounded: a stuck client must not keep the soak running
            for child in children:
                child.join(timeout=30)
                if child.is_alive():
                    child.terminate()
                    errors["client process stuck past the deadline"] += 1
            # Rates are over the load's planned duration: what was due within it, answered
            # (the last answers may come a little after the deadline).
            elapsed = args.minutes * 60
            redis_points.append(("end", redis_memory(redis)))
            rss_points.append(("end", rss(stack, redis)))
            drain_started = time.monotonic()
            drained = True
            try:
                wait_until(
                    lambda: pending(stack.port, key) == 0, timeout=60, what="backlog drained"
                )
            except TimeoutError:
                drained = False
            drain_seconds = time.monotonic() - drain_started
        cpu_span = time.monotonic() - began
        stored = raw_events(database_url) - before
    finally:
        if status_conn:
            status_conn.close()
        stack.stop()
        redis.stop()

    # --- the figures ------------------------------------------------------------------------
    print()
    print(f"soak of {elapsed:.0f} s; ingest ceiling {ceiling:,.0f} events/s, target rate "
          f"{rate:,.0f}/s, achieved {events_sent / elapsed:,.0f}/s "
          f"({events_sent / elapsed / rate * 100:.0f} % of the target)")  # fmt: skip
    print(f"{'endpoint':<18} {'requests':>9} {'req/s':>7} {'p50':>8} {'p95':>8} {'p99':>8}")
    for endpoint, values in sorted(totals.items()):
        print(f"{endpoint:<18} {len(values):9,d} {len(values) / elapsed:7,.1f} "
              f"{percentile(values, 50) * 1000:6.1f}ms {percentile(values, 95) * 1000:6.1f}ms "
              f"{percentile(values, 99) * 1000:6.1f}ms")  # fmt: skip
    polls = sum(len(v) for k, v in totals.items() if k.startswith("widget poll"))
    due = polls + sum(counts.values()) + errors.get("widget poll", 0)
    print(
        f"widget polls: {polls:,} answered of {due:,} due "
        f"({len(totals.get('widget poll 304', [])) / max(polls, 1) * 100:.0f} % of them 304)"
    )
    for what, count in counts.most_common():
        print(f"  {count:,} × {what}")
    print(f"errors: {sum(errors.values())}")
    for what, count in errors.most_common(10):
        print(f"  {count} × {what}")
    for sample in samples[:5]:
        print(f"  e.g. {sample}")
    print("pending backlog over time: " + ", ".join(f"{t:.0f}s {n:,}" for t, n in backlog))
    print(f"drained to 0 in {drain_seconds:.1f} s after the load stopped" if drained
          else "NOT drained within 60 s after the load stopped")  # fmt: skip
    names = [name for name, _ in rss_points]
    print(f"RSS (MiB) at the soak's {' → '.join(names)} (growth: start → end; after the "
          "warm-up → end):")  # fmt: skip
    growth_ok = warm_ok = True
    start, end = rss_points[0][1], rss_points[-1][1]
    warm = rss_points[1][1] if len(rss_points) > 2 else start
    for label in sorted(start):
        if label not in end:
            print(f"  {label:<34} {start[label] / 1024:7.1f} → gone (replaced)")
            continue
        figures = " → ".join(f"{points.get(label, 0) / 1024:7.1f}" for _, points in rss_points)
        growth = (end[label] - start[label]) / start[label] * 100
        after = (end[label] - warm[label]) / warm[label] * 100 if label in warm else growth
        growth_ok &= growth < 10
        warm_ok &= after < 10
        print(f"  {label:<34} {figures}  {growth:+5.1f} %  {after:+5.1f} %")
    for label in sorted(set(end) - set(start)):
        print(f"  {label:<34}     new → {end[label] / 1024:7.1f}")
    print("Redis over time (s: used_memory / RSS MiB): " + ", ".join(
        f"{t:.0f} {u / 2**20:.1f}/{r / 2**20:.1f}" for t, u, r in redis_over_time))  # fmt: skip
    print(f"Redis at the soak's {' → '.join(name for name, _ in redis_points)}:")
    for line in describe_redis(redis_points[0][1], redis_points[-1][1]):
        print(line)
    first, last = redis_points[0][1], redis_points[-1][1]
    warmed = redis_points[1][1] if len(redis_points) > 2 else first
    mib = 2**20
    print(f"Redis: of its RSS, {(first['rss'] - first['used']) / mib:.1f} MiB at the start and "
          f"{(last['rss'] - last['used']) / mib:.1f} MiB at the end are not data (the server "
          "itself, the allocator's pages, client buffers); its data (used_memory) went "
          f"{first['used'] / mib:.1f} → {warmed['used'] / mib:.1f} MiB in the warm-up and "
          f"→ {last['used'] / mib:.1f} MiB at the end, keys {first['keys']:,} → "
          f"{warmed['keys']:,} → {last['keys']:,}")  # fmt: skip
    before = warmed["families"]
    grew = [f"{family} {before.get(family, 0)} → {count}"
            for family, count in last["families"].items()
            if last["no_ttl"].get(family) and count > before.get(family, 0)]  # fmt: skip
    longer = [f"{family} {warmed['lengths'].get(family, 0):,} → {length:,}"
              for family, length in last["lengths"].items()]  # fmt: skip
    print("Redis keys without a TTL that grew in number after the warm-up: "
          f"{', '.join(grew) or 'none'}; queues and streams (warm-up → end): "
          f"{', '.join(longer) or 'none'}")  # fmt: skip
    used = cpu.seconds()
    if any(used.values()):
        shares = [f"{kind} {s:.0f} s ({s / cpu_span * 100:.0f} % of a core)"
                  for kind, s in used.items()]  # fmt: skip
        print(f"CPU seconds over the {cpu_span:.0f} s from the load's start to the backlog "
              "drained: " + ", ".join(shares))  # fmt: skip
    halves = [n for t, n in backlog if t <= elapsed / 2], [n for t, n in backlog if t > elapsed / 2]
    bounded = drained and (not halves[0] or not halves[1]
                           or max(halves[1]) <= max(1.5 * max(halves[0]), rate * 2))  # fmt: skip
    targets = {
        f"event rate ≥ 95 % of half the ceiling ({events_sent / elapsed:,.0f} of {rate:,.0f}/s)": (
            events_sent / elapsed >= 0.95 * rate
        ),
        "0 errors": not errors,
        f"0 events lost (raw rows {stored:,} = events accepted {events_sent:,})": (
            stored == events_sent
        ),
        "backlog bounded and drained": bounded,
        "RSS growth < 10 % in every process, start → end": growth_ok,
        f"RSS growth < 10 % in every process, after {args.warmup:.0f} s → end": warm_ok,
    }
    for target, met in targets.items():
        print(f"target {target}: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
