"""Soak (issue 19): everything at once for a few minutes, and what it leaves behind.

PostgreSQL + a private Redis + gunicorn + the plain Celery worker + beat, on loopback. After
measuring the ingest ceiling (a short burst of batches of 1000 from 4 clients, or
`--ceiling` taken from bench/ingest.py), it runs at the same time, for `--minutes`:
* events at half that ceiling (4 paced posters, batches of `--batch`);
* leaderboard and profile reads from `--readers` (32) clients with an API key;
* `--widgets` (500) simulated agents' widgets, each polling its own agent's profile and board
  every `--widget-interval` seconds with its own widget token (WIDGET_REQUESTS below: switch
  them to the /widgets/... URLs once those exist). When an answer carries an ETag the next
  poll sends If-None-Match and a 304 counts as served; today the API sends none.
It prints, every 10 s: throughput, p95 per client kind, errors and the pending backlog; at the
end: p50/p95/p99 per endpoint, errors, the backlog over time, each process's RSS at start and
end, the CPU each kind of process used, and the targets — 0 errors, 0 events lost (raw rows
= events sent), backlog bounded (no growth from the first half to the second, and drained
within a minute after), RSS growth < 10 %.

    flock /tmp/gamify-bench.lock .venv/bin/python bench/soak.py --database gamify_soak_mine

Needs PostgreSQL on 127.0.0.1:5432 (user postgres); the database named is dropped and
recreated. Every loop is bounded by the deadline; the whole run takes `--minutes` + ~2 min.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import multiprocessing
import random
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
from bench.stack import ROOT, CpuMeter, Redis, Stack, wait_until

TZ = "Asia/Shanghai"
REPORT_EVERY = 5.0  # seconds between a client process's reports to the parent
PRINT_EVERY = 10.0

# What one widget fetches on each poll (its agent's id is filled in). When gamify/widgets
# lands, point these at its URLs, e.g. "/widgets/{agent}/profile" — nothing else changes.
WIDGET_REQUESTS = [
    ("widget profile", "/api/v1/agents/{agent}/profile"),
    ("widget board", "/api/v1/leaderboards?metric=points&period=day&around={agent}&limit=10"),
]
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


# --- load: each kind in its own process (the GIL would otherwise time one against another) --
class Recorder:
    """Latencies and errors per endpoint since the last report, sent to the parent."""

    def __init__(self, kind: str, queue: Any) -> None:
        self.kind, self.queue = kind, queue
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.samples: list[str] = []
        self.events = 0
        self.last = time.monotonic()

    def ok(self, endpoint: str, seconds: float, events: int = 0) -> None:
        with self.lock:
            self.latencies[endpoint].append(seconds)
            self.events += events
        self.maybe_report()

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
                            "events": self.events})  # fmt: skip
            self.latencies, self.errors, self.samples = defaultdict(list), Counter(), []
            self.events, self.last = 0, time.monotonic()


def request(
    conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str],
    body: bytes | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:  # fmt: skip
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read(), response


def post_events(port: int, key: str, rate: float, batch: int, agents: int, poster: int,
                deadline: float, queue: Any) -> None:  # fmt: skip
    """A paced poster: one batch every batch/rate seconds until the deadline. Falls behind
    rather than bursting when the server is slow (the lag shows as a lower rate)."""
    recorder = Recorder("events", queue)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    rng = random.Random(poster)
    interval, seq, next_at = batch / rate, 0, time.monotonic()
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        events = []
        for _ in range(batch):
            seq += 1
            agent = f"soak-{rng.randrange(agents):04d}"
            at = (now - timedelta(seconds=rng.randrange(600))).isoformat()
            if seq % 10 == 0:
                events.append(
                    {
                        "event_id": f"p{poster}-{seq}",
                        "type": "survey",
                        "occurred_at": at,
                        "agent": agent,
                        "csat": rng.randint(1, 5),
                    }
                )
            else:
                answered = rng.random() < 0.95
                events.append({"event_id": f"p{poster}-{seq}", "type": "interaction",
                               "occurred_at": at, "agent": agent, "channel": "voice",
                               "answered": answered, "abandoned": not answered,
                               "wait_seconds": rng.randrange(60),
                               "talk_seconds": rng.randrange(60, 600) if answered else 0,
                               "resolved_first_contact": rng.random() < 0.7})  # fmt: skip
        started = time.perf_counter()
        try:
            status, body, _ = request(conn, "POST", "/api/v1/events", headers,
                                      json.dumps({"events": events}).encode())  # fmt: skip
            accepted = json.loads(body).get("accepted", 0) if status == 202 else 0
            if status == 202 and accepted == batch:
                recorder.ok("POST /events", time.perf_counter() - started, events=batch)
            else:
                recorder.error("POST /events", f"{status} accepted={accepted} {body[:200]!r}")
        except (OSError, http.client.HTTPException) as exc:
            recorder.error("POST /events", repr(exc))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
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
            path = template.format(agent=f"soak-{rng.randrange(agents):04d}",
                                   period=rng.choice(["day", "week", "month"]),
                                   kpi=rng.choice(KPIS))  # fmt: skip
            started = time.perf_counter()
            try:
                status, body, _ = request(conn, "GET", path, headers)
                if status == 200:
                    recorder.ok(name, time.perf_counter() - started)
                else:
                    recorder.error(name, f"{status} {body[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                recorder.error(name, repr(exc))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            time.sleep(think * rng.uniform(0.5, 1.5))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.maybe_report(force=True)


def widget_loop(port: int, tokens: list[tuple[str, str]], interval: float, threads: int,
                deadline: float, queue: Any) -> None:  # fmt: skip
    """len(tokens) widgets, each polling every `interval` s (first poll spread over one
    interval), served by `threads` connections taking whichever widget is due next."""
    recorder = Recorder("widgets", queue)
    start = time.monotonic()
    due = [(start + interval * n / len(tokens), n) for n in range(len(tokens))]
    heapq.heapify(due)
    etags: dict[tuple[int, str], str] = {}
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                at, n = heapq.heappop(due)
                heapq.heappush(due, (at + interval, n))
            if at >= deadline or time.monotonic() >= deadline:
                return  # polls fallen behind are dropped at the deadline, not caught up
            time.sleep(max(0.0, at - time.monotonic()))
            agent, token = tokens[n]
            for name, template in WIDGET_REQUESTS:
                path = template.format(agent=agent)
                headers = {"Authorization": f"Bearer {token}"}
                if (n, path) in etags:
                    headers["If-None-Match"] = etags[n, path]
                started = time.perf_counter()
                try:
                    status, body, response = request(conn, "GET", path, headers)
                    if status in (200, 304):
                        recorder.ok(name, time.perf_counter() - started)
                        etag = response.getheader("ETag")
                        if etag:
                            etags[n, path] = etag
                    else:
                        recorder.error(name, f"{status} {body[:200]!r}")
                except (OSError, http.client.HTTPException) as exc:
                    recorder.error(name, repr(exc))
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    recorder.maybe_report(force=True)


def burst(args: tuple[int, str, int, int, float]) -> int:
    """The ceiling: batches of 1000 back to back until the deadline; returns events sent."""
    port, key, client, agents, deadline = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    sent, n = 0, 0
    at = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    while time.monotonic() < deadline:
        events = [{"event_id": f"ceiling-{client}-{n + i}", "type": "interaction",
                   "occurred_at": at, "agent": f"soak-{(n + i) % agents:04d}",
                   "answered": True, "talk_seconds": 200, "wait_seconds": 10}
                  for i in range(1000)]  # fmt: skip
        n += 1000
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


def redis_memory(redis: Redis) -> str:
    client = redis_py.Redis(port=redis.port)
    info = client.info("memory")
    return f"used_memory {info['used_memory'] / 2**20:.1f} MiB, {client.dbsize()} keys"


def board_live(conn: http.client.HTTPConnection, key: str, path: str) -> bool:
    _, _, response = request(conn, "GET", path, {"Authorization": f"Bearer {key}"})
    return response.getheader("X-Gamify-Source") == "live"


def raw_events(database_url: str) -> int:
    with psycopg.connect(database_url) as db:
        row = db.execute("SELECT count(*) FROM kpis_rawevent").fetchone()
    return int(row[0]) if row else 0


def pending(conn: http.client.HTTPConnection, key: str) -> int:
    status, body, _ = request(conn, "GET", "/api/v1/ingest/status",
                              {"Authorization": f"Bearer {key}"})  # fmt: skip
    return int(json.loads(body)["pending"]) if status == 200 else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--ceiling", type=float, default=0, help="events/s; 0 = measure it")
    parser.add_argument("--ceiling-seconds", type=float, default=20)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--readers", type=int, default=32)
    parser.add_argument("--think", type=float, default=0.2, help="readers' pause, seconds")
    parser.add_argument("--widgets", type=int, default=500)
    parser.add_argument("--widget-interval", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--database", default="gamify_soak")
    args = parser.parse_args()
    if args.minutes > 8:
        parser.error("--minutes: at most 8 (the whole run must stay under 10 minutes)")

    database_url = recreate_database(args.database)
    workdir = ROOT / "var" / "soak"
    workdir.mkdir(parents=True, exist_ok=True)
    redis = Redis(workdir)
    redis.start()
    stack = Stack(database_url, redis, web_workers=args.web_workers, CONN_MAX_AGE="600")
    status_conn: http.client.HTTPConnection | None = None
    try:
        stack.manage("migrate", "--noinput", "-v0")
        out = stack.manage("create_tenant", "--name", "Soak", "--timezone", TZ, "--json")
        key = json.loads(out.strip().splitlines()[-1])["api_key"]
        stack.start_web()
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
        tokens: list[tuple[str, str]] = []
        for a in range(args.agents):
            agent = f"soak-{a:04d}"
            person = {"display_name": f"Agent {a}", "team": f"soak-team-{a % 10}"}
            request(conn, "PUT", f"/api/v1/agents/{agent}", auth, json.dumps(person).encode())
        for w in range(args.widgets):
            agent = f"soak-{w % args.agents:04d}"
            body = json.dumps({"agent": agent, "ttl_seconds": 3600}).encode()
            status, reply, _ = request(conn, "POST", "/api/v1/widget-tokens", auth, body)
            assert status == 201, reply
            tokens.append((agent, json.loads(reply)["token"]))
        status_conn = conn
        print(f"stack up: {args.web_workers} gunicorn workers, the plain Celery worker, beat; "
              f"{args.agents} agents, {len(tokens)} widget tokens", flush=True)  # fmt: skip

        # --- the ceiling ------------------------------------------------------------------
        ceiling = args.ceiling
        if not ceiling:
            print(f"measuring the ingest ceiling ({args.ceiling_seconds:.0f} s, 4 clients, "
                  "batches of 1000)…", flush=True)  # fmt: skip
            started = time.monotonic()
            deadline = started + args.ceiling_seconds
            with multiprocessing.Pool(4) as pool:
                sent = sum(pool.map(burst, [(stack.port, key, c, args.agents, deadline)
                                            for c in range(4)]))  # fmt: skip
            ceiling = sent / (time.monotonic() - started)
            print(f"ceiling: {ceiling:,.0f} events/s accepted; waiting for the backlog…",
                  flush=True)  # fmt: skip
            wait_until(lambda: pending(conn, key) == 0, timeout=180, what="the burst applied")
        rate = ceiling / 2
        before = raw_events(database_url)

        # --- the soak ---------------------------------------------------------------------
        print(f"soak: {args.minutes:g} min; events at {rate:,.0f}/s (half the ceiling), "
              f"{args.readers} readers (think {args.think} s), {len(tokens)} widgets every "
              f"{args.widget_interval:g} s", flush=True)  # fmt: skip
        # Warm-up: every board the clients read is read once (and so filled in Redis, to be
        # kept live from then on) and every widget polls once, so that the start figures are
        # those of a running system, not of one about to fill its boards and rate windows.
        for metric in ["points", *KPIS]:
            for period in ("day", "week", "month"):
                path = f"/api/v1/leaderboards?metric={metric}&period={period}"
                wait_until(partial(board_live, conn, key, path), timeout=60, what=path)
        for agent, token in tokens:
            for _, template in WIDGET_REQUESTS:
                request(conn, "GET", template.format(agent=agent),
                        {"Authorization": f"Bearer {token}"})  # fmt: skip
        rss_start = rss(stack, redis)
        redis_start = redis_memory(redis)
        queue: Any = multiprocessing.Queue()
        deadline = time.monotonic() + args.minutes * 60
        children = [
            multiprocessing.Process(target=post_events, args=(
                stack.port, key, rate / 4, args.batch, args.agents, p, deadline, queue))
            for p in range(4)
        ] + [
            multiprocessing.Process(target=read_loop, args=(
                stack.port, key, args.readers // 2, args.agents, args.think, deadline, queue))
            for _ in range(2)
        ] + [
            multiprocessing.Process(target=widget_loop, args=(
                stack.port, tokens, args.widget_interval, 16, deadline, queue))
        ]  # fmt: skip
        totals: dict[str, list[float]] = defaultdict(list)
        errors: Counter[str] = Counter()
        samples: list[str] = []
        events_sent = 0
        backlog: list[tuple[float, int]] = []
        began = time.monotonic()
        with CpuMeter() as cpu:
            for child in children:
                child.start()
            window: dict[str, list[float]] = defaultdict(list)
            window_events, window_errors, last_print = 0, 0, began
            print(f"{'t':>5} {'events/s':>9} {'reads/s':>8} {'widget/s':>9} "
                  f"{'read p95':>9} {'widget p95':>11} {'POST p95':>9} {'errors':>7} "
                  f"{'pending':>8}", flush=True)  # fmt: skip
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
                    window_errors += sum(report["errors"].values())
                    samples += report["samples"]
                    events_sent += report["events"]
                    window_events += report["events"]
                now = time.monotonic()
                if now - last_print >= PRINT_EVERY:
                    span = now - last_print
                    backlog.append((now - began, pending(conn, key)))

                    def p95(kind: str, values: dict[str, list[float]] = window) -> str:
                        found = values.get(kind)
                        return f"{percentile(found, 95) * 1000:.0f} ms" if found else "-"

                    print(f"{now - began:5.0f} {window_events / span:9,.0f} "
                          f"{len(window['readers']) / span:8,.0f} "
                          f"{len(window['widgets']) / span:9,.0f} {p95('readers'):>9} "
                          f"{p95('widgets'):>11} {p95('events'):>9} {window_errors:7d} "
                          f"{backlog[-1][1]:8,d}", flush=True)  # fmt: skip
                    window, window_events, window_errors, last_print = defaultdict(list), 0, 0, now
                if now > deadline + 120:
                    break  # bounded: a stuck client must not keep the soak running
            for child in children:
                child.join(timeout=30)
                if child.is_alive():
                    child.terminate()
                    errors["client process stuck past the deadline"] += 1
            elapsed = time.monotonic() - began
            drain_started = time.monotonic()
            drained = True
            try:
                wait_until(lambda: pending(conn, key) == 0, timeout=60, what="backlog drained")
            except TimeoutError:
                drained = False
            drain_seconds = time.monotonic() - drain_started
        rss_end = rss(stack, redis)
        redis_end = redis_memory(redis)
        stored = raw_events(database_url) - before
    finally:
        if status_conn:
            status_conn.close()
        stack.stop()
        redis.stop()

    # --- the figures ------------------------------------------------------------------------
    print()
    print(f"soak of {elapsed:.0f} s; ingest ceiling {ceiling:,.0f} events/s, target rate "
          f"{rate:,.0f}/s, achieved {events_sent / elapsed:,.0f}/s")  # fmt: skip
    print(f"{'endpoint':<16} {'requests':>9} {'req/s':>7} {'p50':>8} {'p95':>8} {'p99':>8}")
    for endpoint, values in sorted(totals.items()):
        print(f"{endpoint:<16} {len(values):9,d} {len(values) / elapsed:7,.1f} "
              f"{percentile(values, 50) * 1000:6.1f}ms {percentile(values, 95) * 1000:6.1f}ms "
              f"{percentile(values, 99) * 1000:6.1f}ms")  # fmt: skip
    print(f"errors: {sum(errors.values())}")
    for what, count in errors.most_common(10):
        print(f"  {count} × {what}")
    for sample in samples[:5]:
        print(f"  e.g. {sample}")
    print("pending backlog over time: " + ", ".join(f"{t:.0f}s {n:,}" for t, n in backlog))
    print(f"drained to 0 in {drain_seconds:.1f} s after the load stopped" if drained
          else "NOT drained within 60 s after the load stopped")  # fmt: skip
    print("RSS (MiB) at the soak's start → end:")
    growth_ok = True
    for label in sorted(rss_start):
        start_kib, end_kib = rss_start[label], rss_end.get(label)
        if end_kib is None:
            print(f"  {label:<34} {start_kib / 1024:7.1f} → gone (replaced)")
            continue
        growth = (end_kib - start_kib) / start_kib * 100
        growth_ok &= growth < 10
        print(f"  {label:<34} {start_kib / 1024:7.1f} → {end_kib / 1024:7.1f}  {growth:+5.1f} %")
    for label in sorted(set(rss_end) - set(rss_start)):
        print(f"  {label:<34}     new → {rss_end[label] / 1024:7.1f}")
    print(f"Redis data at the soak's start: {redis_start}; at its end: {redis_end}")
    used = cpu.seconds()
    if any(used.values()):
        shares = [f"{kind} {s:.0f} s ({s / elapsed * 100:.0f} % of a core)"
                  for kind, s in used.items()]  # fmt: skip
        print("CPU seconds during the soak: " + ", ".join(shares))
    halves = [n for t, n in backlog if t <= elapsed / 2], [n for t, n in backlog if t > elapsed / 2]
    bounded = drained and (not halves[0] or not halves[1]
                           or max(halves[1]) <= max(1.5 * max(halves[0]), rate * 2))  # fmt: skip
    targets = {
        "0 errors": not errors,
        f"0 events lost (raw rows {stored:,} = events accepted {events_sent:,})": (
            stored == events_sent
        ),
        "backlog bounded and drained": bounded,
        "RSS growth < 10 % in every process": growth_ok,
    }
    for target, met in targets.items():
        print(f"target {target}: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
