"""Admin CSV export benchmark (issue 18, item 3): every agent's KPIs and points over a week.

Populates a fresh PostgreSQL database with N agents (default 10,000), each with 7 day buckets
of calls and 7 days of points, then times, in this process:
  * the export as the admin streams it (`kpi_points_rows` → csv), in chunks of 1,000;
  * beside it, a bare baseline: the same agents' identity rows streamed to CSV, no KPIs;
  * and the per-agent way (one `agent_kpis` read per agent, as N API calls would), on the
    first 1,000 agents only, extrapolated to N.
Prints seconds, rows/s, queries and the traced memory peak of each.

    .venv/bin/python bench/admin_export.py [--agents 10000] [--database gamify_bench_export]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import recreate_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--database", default="gamify_bench_export")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = recreate_database(args.database)
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from accounts.models import Agent
    from accounts.services import tenant_create
    from gamify.game.exports import export_period, kpi_points_rows
    from gamify.game.models import AgentDayPoints
    from kpis.models import AgentDay
    from kpis.periods import period_of
    from kpis.selectors import agent_kpis

    tenant = tenant_create(name="Bench", timezone_name="Asia/Shanghai", slug="bench")
    agents = Agent.objects.bulk_create(
        [
            Agent(tenant=tenant, external_id=f"agent-{n:06d}", display_name=f"Agent {n}")
            for n in range(args.agents)
        ],
        batch_size=5000,
    )
    monday = date(2026, 11, 16)
    days = [monday + timedelta(days=d) for d in range(7)]
    AgentDay.objects.bulk_create(
        [
            AgentDay(tenant=tenant, agent_id=a.pk, day=d, events=20, attempts=20, offered=20,
                     answered=18, handle_ms=18 * 240_000, talk_ms=18 * 200_000, csat_responses=4,
                     csat_top2=3, csat_sum=17)
            for a in agents
            for d in days
        ],
        batch_size=10_000,
    )  # fmt: skip
    AgentDayPoints.objects.bulk_create(
        [AgentDayPoints(tenant=tenant, agent_id=a.pk, day=d, points=30)
         for a in agents for d in days],
        batch_size=10_000,
    )  # fmt: skip
    when = export_period(tenant=tenant, kind="week", day=monday)

    def consume(rows_of) -> int:
        sink = io.StringIO()
        writer = csv.writer(sink)
        count = 0
        for row in rows_of():
            writer.writerow(row)
            count += 1
            if sink.tell() > 1 << 20:  # a stream hands its bytes on: keep the sink small
                sink.seek(0)
                sink.truncate()
        return count

    def run(label: str, rows_of, scale: float = 1.0) -> None:
        # Timed untraced (tracemalloc slows every allocation); the peak in a second pass.
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            count = consume(rows_of)
        seconds = time.perf_counter() - started
        tracemalloc.start()
        consume(rows_of)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        note = f" (×{scale:g} extrapolated: {seconds * scale:.2f} s)" if scale != 1 else ""
        print(
            f"{label:<34} {count:>7} rows {seconds:7.2f} s {count / seconds:9.0f} rows/s "
            f"{len(queries.captured_queries):>6} queries  peak {peak / 1e6:6.1f} MB{note}",
            flush=True,
        )

    def bare():
        yield ["agent", "display_name", "team", "active"]
        last = 0
        while True:
            chunk = list(
                Agent.objects.for_tenant(tenant).filter(id__gt=last).order_by("id")
                .values_list("id", "external_id", "display_name", "team__external_id",
                             "active")[:1000]
            )  # fmt: skip
            if not chunk:
                return
            last = chunk[-1][0]
            for _, *row in chunk:
                yield [str(v) for v in row]

    week = period_of("week", monday, tenant)

    def per_agent():
        for agent in Agent.objects.for_tenant(tenant).order_by("id")[:1000]:
            values = agent_kpis(tenant=tenant, agent=agent, period=week)
            yield [agent.external_id, *(str(v.value) for v in values.values())]

    print(f"agents: {args.agents}, 7 day buckets each, one week exported")
    run("bare identity stream (baseline)", bare)
    run("export: KPIs + points, chunked", lambda: kpi_points_rows(tenant=tenant, when=when))
    run("per-agent agent_kpis (1,000)", per_agent, scale=args.agents / 1000)


if __name__ == "__main__":
    main()
