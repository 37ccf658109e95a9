"""Webhooks benchmark (issue 18): deliveries/s and activity → receipt latency against a local
receiver, beside bare POSTs to the same receiver, and whether one tenant's slow receiver delays
another tenant's deliveries.

PostgreSQL + a private Redis + gunicorn + one Celery worker on the `webhooks` queue (prefork,
`--concurrency`, default 4). Two tenants, each with one endpoint subscribed to
`wallet.granted` on its own receiver thread in this process. Activities are coins grants over
the API (each writes its activity and, in the same transaction, its delivery). Phases, one run:

* drain  `--count` grants to the fast tenant made before the worker starts, then the worker
         drains them: deliveries/s from the first receipt to the last;
* bare   `--count` raw httpx POSTs of a delivery-sized body to the same receiver from
         `--concurrency` threads (one client each): the receiver's own rate and latency (the
         baseline, with as many senders as the worker has processes), and again from
         `--per-endpoint` threads, as many as deliveries to one endpoint may be in flight at
         once (WEBHOOKS_CONCURRENCY_PER_ENDPOINT): the drain's fair baseline, since one
         endpoint's backlog is sent through that many slots whatever the pool's size;
* alone  `--count` grants from `--clients` API clients while the worker runs: activity
         `occurred_at` → receipt p50/p95 (and the rate, which the API's grant rate bounds);
* slow   the same, while the other tenant's receiver sleeps past WEBHOOKS_TIMEOUT_SECONDS on
         every delivery and is fed grants all along: the fast tenant's figures again.

    flock /tmp/gamify-bench.lock .venv/bin/python bench/webhooks.py [--count 300]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres); the database `--database` (default
`gamify_bench_webhooks`) is dropped and recreated.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import percentile, recreate_database
from bench.stack import ROOT, Redis, Stack, wait_until

TIMEOUT_SECONDS = 2.0  # the deployment's WEBHOOKS_TIMEOUT_SECONDS in this run
SLOW_SLEEP_SECONDS = 5.0  # the slow receiver answers after this: every attempt times out


class Receiver:
    """A receiver thread: records, per delivery id, when it arrived and the activity's time."""

    def __init__(self, sleep: float = 0.0) -> None:
        self.sleep = sleep
        self.lock = threading.Lock()
        self.arrivals: dict[str, tuple[float, float | None]] = {}  # id → (received, occurred)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                occurred = None
                try:
                    at = json.loads(body).get("occurred_at")
                    occurred = datetime.fromisoformat(at).timestamp() if at else None
                except ValueError:
                    pass
                key = self.headers.get("X-Gamify-Delivery") or f"bare-{now}-{id(self)}"
                with receiver.lock:
                    receiver.arrivals.setdefault(key, (now, occurred))
                if receiver.sleep:
                    time.sleep(receiver.sleep)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender timed out and hung up (the slow receiver)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def reset(self) -> None:
        with self.lock:
            self.arrivals.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Tenant:
    def __init__(self, stack: Stack, name: str, receiver: Receiver) -> None:
        out = stack.manage("create_tenant", "--name", name, "--timezone", "UTC", "--json")
        key = json.loads(out.strip().splitlines()[-1])["api_key"]
        self.client = httpx.Client(
            base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        self.agents = [f"agent-{n}" for n in range(8)]
        for agent in self.agents:
            answer = self.client.put(f"/api/v1/agents/{agent}", json={"display_name": agent})
            assert answer.status_code in (200, 201), answer.text
        hook = self.client.post(
            "/api/v1/webhooks", json={"url": receiver.url, "events": ["wallet.granted"]}
        )
        assert hook.status_code == 201, hook.text
        self.receiver = receiver

    def grant(self, n: int) -> None:
        answer = self.client.post(
            f"/api/v1/agents/{self.agents[n % len(self.agents)]}/wallet/grants",
            json={"amount": 1, "reason": f"bench {n}"},
        )
        assert answer.status_code == 201, answer.text


def report(name: str, count: int, started: float, ended: float, latencies: list[float]) -> dict:
    rate = count / (ended - started) if ended > started else 0.0
    p50 = percentile(latencies, 50) * 1000 if latencies else float("nan")
    p95 = percentile(latencies, 95) * 1000 if latencies else float("nan")
    print(f"{name:<28} {count:>5} in {ended - started:6.2f} s  {rate:8.1f}/s  "
          f"p50 {p50:8.1f} ms  p95 {p95:8.1f} ms", flush=True)  # fmt: skip
    return {"rate": rate, "p50": p50, "p95": p95}


def bare(receiver: Receiver, count: int, clients: int) -> dict:
    """Raw POSTs of a delivery-sized body, one httpx client per thread: what the receiver
    takes without Gamify."""
    body = json.dumps({"id": 1, "type": "wallet.granted", "tenant": "x", "agent": "agent-0",
                       "team": None, "occurred_at": "2026-01-01T00:00:00+00:00",
                       "data": {"amount": 1, "reason": "bench 1"}}).encode()  # fmt: skip
    receiver.reset()
    latencies: list[float] = []
    lock = threading.Lock()

    local = threading.local()

    def post(n: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=10)
        t0 = time.perf_counter()
        answer = client.post(
            receiver.url,
            content=body,
            headers={"Content-Type": "application/json", "X-Gamify-Delivery": f"bare-{n}"},
        )
        assert answer.status_code == 200
        with lock:
            latencies.append(time.perf_counter() - t0)

    started = time.time()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, range(count)))
    return report(f"bare httpx POSTs ×{clients}", count, started, time.time(), latencies)


def drain(stack: Stack, tenant: Tenant, count: int, clients: int, concurrency: int) -> dict:
    """Deliveries/s of a backlog: the grants are made first, then the worker starts."""
    tenant.receiver.reset()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(tenant.grant, range(count)))
    stack.start_worker(concurrency=concurrency, queues="webhooks", prefork=True)
    wait_until(lambda: tenant.receiver.count() >= count, timeout=300, what="the backlog")
    with tenant.receiver.lock:
        times = sorted(got for got, _ in tenant.receiver.arrivals.values())
    return report(f"drain a backlog ×{concurrency}", count - 1, times[0], times[-1], [])


def deliveries(tenant: Tenant, count: int, clients: int, name: str) -> dict:
    tenant.receiver.reset()
    started = time.time()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(tenant.grant, range(count)))
    wait_until(lambda: tenant.receiver.count() >= count, timeout=300, what=f"{name} deliveries")
    with tenant.receiver.lock:
        arrivals = list(tenant.receiver.arrivals.values())
    latencies = [got - occurred for got, occurred in arrivals if occurred is not None]
    return report(name, count, started, max(got for got, _ in arrivals), latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="deliveries per phase")
    parser.add_argument("--clients", type=int, default=4, help="concurrent API clients")
    parser.add_argument("--concurrency", type=int, default=4, help="webhooks worker processes")
    parser.add_argument("--per-endpoint", type=int, default=2,
                        help="WEBHOOKS_CONCURRENCY_PER_ENDPOINT")  # fmt: skip
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--database", default="gamify_bench_webhooks")
    args = parser.parse_args()

    database_url = recreate_database(args.database)
    workdir = ROOT / "var" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    redis = Redis(workdir)
    redis.start()
    stack = Stack(
        database_url,
        redis,
        web_workers=args.web_workers,
        CONN_MAX_AGE="600",
        WEBHOOKS_ALLOW_PRIVATE_NETWORKS="true",
        WEBHOOKS_ALLOW_HTTP="true",
        WEBHOOKS_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        WEBHOOKS_CONCURRENCY_PER_ENDPOINT=str(args.per_endpoint),
    )
    fast_receiver, slow_receiver = Receiver(), Receiver(sleep=SLOW_SLEEP_SECONDS)
    feeding = threading.Event()
    try:
        stack.manage("migrate", "--noinput")
        stack.start_web()
        fast = Tenant(stack, "Fast Receiver Co", fast_receiver)
        slow = Tenant(stack, "Slow Receiver Co", slow_receiver)
        print(f"webhooks worker ×{args.concurrency}, timeout {TIMEOUT_SECONDS} s, "
              f"{args.clients} API clients, {args.count} per phase", flush=True)  # fmt: skip
        results = {
            "drain": drain(stack, fast, args.count, args.clients, args.concurrency),
            "bare": bare(fast_receiver, args.count, args.concurrency),
            "bare_slots": bare(fast_receiver, args.count, args.per_endpoint),
            "fast": deliveries(fast, args.count, args.clients, "fast tenant alone"),
        }

        def feed() -> None:  # the slow tenant's activity, all along the phase
            n = 0
            while not feeding.is_set():
                slow.grant(n)
                n += 1
                time.sleep(0.05)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        time.sleep(2 * TIMEOUT_SECONDS + 1)  # its deliveries are timing out by now
        results["with_slow"] = deliveries(
            fast, args.count, args.clients, "fast tenant beside slow one"
        )
        feeding.set()
        feeder.join()
        print(f"slow receiver: {slow_receiver.count()} attempts arrived (each held "
              f"{SLOW_SLEEP_SECONDS:.0f} s, past the {TIMEOUT_SECONDS:.0f} s timeout)")  # fmt: skip
        base, alone, beside = results["bare"], results["fast"], results["with_slow"]
        slots = results["bare_slots"]
        print(f"drain: {results['drain']['rate'] / base['rate']:.3f} × the bare POST rate "
              f"×{args.concurrency}, {results['drain']['rate'] / slots['rate']:.3f} × the bare "
              f"POST rate ×{args.per_endpoint} (the endpoint's slots)")  # fmt: skip
        print(f"activity → receipt p50 {alone['p50'] / base['p50']:.1f} ×, "
              f"p95 {alone['p95'] / base['p95']:.1f} × a bare POST's")  # fmt: skip
        print(f"fast tenant beside the slow one: p50 {beside['p50'] / alone['p50']:.2f} ×, "
              f"p95 {beside['p95'] / alone['p95']:.2f} ×, rate "
              f"{beside['rate'] / alone['rate']:.2f} × alone")  # fmt: skip
    finally:
        feeding.set()
        stack.stop()
        redis.stop()
        fast_receiver.close()
        slow_receiver.close()


if __name__ == "__main__":
    main()
