"""The one invariant (DESIGN.md §1), as a property: for random event streams with duplicates,
conflicts, shuffles, late arrivals, voids, team moves and settings changes,

* the incrementally maintained buckets equal a full rebuild from raw events, and
* every KPI of every agent and team, over the whole range and over single days, equals a
  direct computation over the accepted, non-voided events (an oracle written here from the
  definitions, independent of kpis/formulas.py).

Both bucket implementations (PostgreSQL unnest and the portable one used on SQLite) run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Agent, Team, Tenant
from accounts.services import agent_upsert, team_upsert, tenant_create
from kpis import buckets
from kpis.ingest import buckets_rebuild, event_void, events_ingest
from kpis.models import (
    AgentDay,
    AgentHour,
    AgentMetricHour,
    InteractionSettings,
    TeamDay,
    TeamHour,
    TeamMetricHour,
)
from kpis.periods import Period, period_of
from kpis.selectors import agent_kpis, team_kpis
from kpis.services.catalogue import kpi_create

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 10, tzinfo=UTC)
HOURS = 72  # events fall in three days
AGENTS = ("a1", "a2", "a3")
TEAMS = ("north", "north-sub", "south")  # north-sub is inside north


# --- the stream ------------------------------------------------------------------------------
def _event(draw: Any, n: int) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(["interaction"] * 4 + ["survey", "qa_evaluation", "adherence", "metric"])
    )
    at = START + timedelta(minutes=draw(st.integers(0, HOURS * 60 - 1)))
    agent = draw(st.sampled_from([*AGENTS, None]))
    event: dict[str, Any] = {"event_id": f"e{n}", "type": kind, "occurred_at": at.isoformat()}
    if agent is None:
        event["team"] = draw(st.sampled_from(TEAMS))
    else:
        event["agent"] = agent
        if draw(st.booleans()) and draw(st.booleans()):
            event["team"] = draw(st.sampled_from(TEAMS))  # explicit attribution
    # Edges of the default and drawn settings included: 5 s short abandon, 20 s threshold.
    seconds = (
        st.sampled_from([0, 4.999, 5, 5.001, 19.999, 20, 20.001, 30])
        | st.integers(0, 60)
        | st.decimals(0, 900, places=3).map(float)
    )
    if kind == "interaction":
        outcome = draw(st.sampled_from(["answered", "abandoned", "blocked", "missed"]))
        event.update(
            offered=draw(st.booleans()) if outcome != "blocked" else False,
            answered=outcome == "answered",
            abandoned=outcome == "abandoned",
            blocked=outcome == "blocked",
            wait_seconds=draw(seconds),
            talk_seconds=draw(seconds),
            hold_seconds=draw(seconds),
            acw_seconds=draw(seconds),
            transferred=draw(st.booleans()),
            resolved_first_contact=draw(st.sampled_from([True, False, None])),
        )
        attempt = draw(st.booleans())
        event.update(save_attempt=attempt, saved=attempt and draw(st.booleans()))
    elif kind == "survey":
        event["csat"] = draw(st.none() | st.integers(1, 5))
        event["nps"] = draw(st.none() | st.integers(0, 10))
        event["ces"] = draw(st.integers(1, 7))
    elif kind == "qa_evaluation":
        event["score"] = float(draw(st.decimals(0, 100, places=2)))
    elif kind == "adherence":
        scheduled = draw(st.integers(0, 28_800))
        event.update(scheduled_seconds=scheduled, adherent_seconds=draw(st.integers(0, scheduled)))
    else:
        event.update(
            kpi=draw(st.sampled_from(["sales", "ratio"])),
            value=float(draw(st.decimals(-500, 500, places=2))),
            count=draw(st.integers(1, 3)),
        )
    return event


@st.composite
def streams(draw: Any) -> list[tuple[str, Any]]:
    """A list of operations: ("batch", [events]), ("void", id), ("settings", (t, s)),
    ("move", (agent, team, at))."""
    events = [_event(draw, n) for n in range(draw(st.integers(1, 40)))]
    ops: list[tuple[str, Any]] = []
    pool = list(events)
    random.Random(draw(st.integers(0, 10**6))).shuffle(pool)  # out of order, late arrivals
    while pool:
        size = draw(st.integers(1, 12))
        batch, pool = pool[:size], pool[size:]
        # Retries: repeat an earlier event, or resend one with another body (a conflict).
        if ops and draw(st.booleans()):
            earlier = draw(st.sampled_from(events))
            batch.append(dict(earlier))
            if draw(st.booleans()):
                batch.append(
                    {**earlier, "occurred_at": (START + timedelta(hours=HOURS - 1)).isoformat()}
                )
        ops.append(("batch", batch))
        roll = draw(st.integers(0, 9))
        if roll == 0:
            ops.append(("void", draw(st.sampled_from(events))["event_id"]))
        elif roll == 1:
            ops.append(
                (
                    "settings",
                    (
                        draw(st.sampled_from([0, 5, 20, 30, 60])),
                        draw(st.sampled_from([0, 5, 20, 30])),
                    ),
                )
            )
        elif roll == 2:
            at = START + timedelta(minutes=draw(st.integers(0, HOURS * 60)))
            ops.append(("move", (draw(st.sampled_from(AGENTS)), draw(st.sampled_from(TEAMS)), at)))
    return ops


# --- the oracle: KPIs straight from the definitions (DESIGN.md §4) --------------------------
@dataclass
class Model:
    """What the test knows was accepted, and where each agent was when."""

    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    voided: set[str] = field(default_factory=set)
    moves: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    threshold: int = 20
    short_abandon: int = 5

    def team_of(self, event: dict[str, Any]) -> str | None:
        if event.get("team"):
            return str(event["team"])
        if not event.get("agent"):
            return None
        at = datetime.fromisoformat(event["occurred_at"])
        history = self.moves[event["agent"]]
        team = history[0][1]
        for since, moved_to in history:
            if since <= at:
                team = moved_to
        return team

    def live(self) -> list[dict[str, Any]]:
        return [e for i, e in self.accepted.items() if i not in self.voided]


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def oracle(events: list[dict[str, Any]], model: Model) -> dict[str, tuple[Decimal, Decimal]]:
    """{kpi: (numerator, denominator)} in natural units, from the definitions."""
    inter = [e for e in events if e["type"] == "interaction"]
    answered = [e for e in inter if e["answered"]]
    offered = [e for e in inter if e["offered"]]
    short = [e for e in offered if e["abandoned"] and _d(e["wait_seconds"]) < model.short_abandon]
    counted = Decimal(len(offered) - len(short))
    surveys = [e for e in events if e["type"] == "survey"]
    csat = [e["csat"] for e in surveys if e.get("csat") is not None]
    nps = [e["nps"] for e in surveys if e.get("nps") is not None]
    ces = [e["ces"] for e in surveys if e.get("ces") is not None]
    qa = [_d(e["score"]) for e in events if e["type"] == "qa_evaluation"]
    adherence = [e for e in events if e["type"] == "adherence"]
    n = Decimal
    return {
        "fcr": (
            n(sum(e["resolved_first_contact"] is True for e in inter)),
            n(sum(e["resolved_first_contact"] is not None for e in inter)),
        ),
        "aht": (
            sum(
                (
                    _d(e["talk_seconds"]) + _d(e["hold_seconds"]) + _d(e["acw_seconds"])
                    for e in answered
                ),
                n(0),
            ),
            n(len(answered)),
        ),
        "asa": (sum((_d(e["wait_seconds"]) for e in answered), n(0)), n(len(answered))),
        "queue_time": (sum((_d(e["wait_seconds"]) for e in offered), n(0)), n(len(offered))),
        "abandon_rate": (n(sum(e["abandoned"] for e in offered) - len(short)), counted),
        "service_level": (
            n(sum(e["answered"] and _d(e["wait_seconds"]) <= model.threshold for e in offered)),
            counted,
        ),
        "blocked_rate": (n(sum(e["blocked"] for e in inter)), n(len(inter))),
        "transfer_rate": (n(sum(e["transferred"] for e in answered)), n(len(answered))),
        "contacts_handled": (n(len(answered)), n(len(answered))),
        "save_rate": (n(sum(e["saved"] for e in inter)), n(sum(e["save_attempt"] for e in inter))),
        "csat": (n(sum(c >= 4 for c in csat)), n(len(csat))),
        "csat_avg": (n(sum(csat)), n(len(csat))),
        "nps": (n(sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)), n(len(nps))),
        "ces": (n(sum(ces)), n(len(ces))),
        "qa_score": (sum(qa, n(0)), n(len(qa))),
        "adherence": (
            sum((_d(e["adherent_seconds"]) for e in adherence), n(0)),
            sum((_d(e["scheduled_seconds"]) for e in adherence), n(0)),
        ),
        "sales": (
            sum((_d(e["value"]) for e in events if e.get("kpi") == "sales"), n(0)),
            sum((_d(e["count"]) for e in events if e.get("kpi") == "sales"), n(0)),
        ),
        "ratio": (
            sum((_d(e["value"]) for e in events if e.get("kpi") == "ratio"), n(0)),
            sum((_d(e["count"]) for e in events if e.get("kpi") == "ratio"), n(0)),
        ),
    }


PERCENT = {
    "fcr",
    "abandon_rate",
    "service_level",
    "blocked_rate",
    "transfer_rate",
    "save_rate",
    "csat",
    "nps",
    "adherence",
}


def expected_value(code: str, num: Decimal, den: Decimal) -> float | None:
    if den == 0:
        return None
    if code in ("contacts_handled", "sales"):
        value = num
    else:
        value = (Decimal(100) if code in PERCENT else Decimal(1)) * num / den
    return float(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


# --- the test -------------------------------------------------------------------------------
def snapshot(tenant: Tenant) -> dict[str, set[tuple[Any, ...]]]:
    return {
        model.__name__: set(model.objects.filter(tenant=tenant).values_list())
        for model in (AgentHour, TeamHour, AgentDay, TeamDay, AgentMetricHour, TeamMetricHour)
    }


def setup_tenant() -> tuple[Tenant, Model]:
    model = Model()
    with time_machine.travel(START - timedelta(days=5)):
        tenant = tenant_create(name="Prop", timezone_name="America/New_York", slug="prop")
        team_upsert(tenant=tenant, external_id="north", name="N", parent_external_id=None)
        team_upsert(tenant=tenant, external_id="north-sub", name="NS", parent_external_id="north")
        team_upsert(tenant=tenant, external_id="south", name="S", parent_external_id=None)
        for agent, team in zip(AGENTS, ("north", "north-sub", "south"), strict=True):
            agent_upsert(
                tenant=tenant, external_id=agent, display_name=agent, team_external_id=team
            )
            model.moves[agent] = [(START - timedelta(days=5), team)]
    kpi_create(
        tenant=tenant,
        code="sales",
        name="Sales",
        unit="count",
        direction="higher_is_better",
        aggregation="sum",
        min_volume=Decimal(0),
    )
    kpi_create(
        tenant=tenant,
        code="ratio",
        name="Ratio",
        unit="score",
        direction="higher_is_better",
        aggregation="ratio",
        min_volume=Decimal(0),
    )
    return tenant, model


def run(ops: list[tuple[str, Any]]) -> None:
    tenant, model = setup_tenant()
    clock = START - timedelta(days=1)  # moves happen "now", after what was already ingested
    for op, arg in ops:
        if op == "batch":
            result = events_ingest(tenant=tenant, items=arg)
            for event in arg:
                model.accepted.setdefault(event["event_id"], event)
                clock = max(clock, datetime.fromisoformat(event["occurred_at"]))
            assert result.accepted + result.duplicates + len(result.rejected) == len(arg)
        elif op == "void":
            if arg in model.accepted:
                event_void(tenant=tenant, event_id=arg)
                model.voided.add(arg)
        elif op == "settings":
            model.threshold, model.short_abandon = arg
            InteractionSettings.objects.update_or_create(
                tenant=tenant,
                defaults={"threshold_seconds": arg[0], "short_abandon_seconds": arg[1]},
            )
            buckets_rebuild(tenant=tenant)  # what kpis.recompute_tenant does
        else:
            agent, team, at = arg
            at = clock = max(at, clock + timedelta(minutes=1))
            with time_machine.travel(at):
                agent_upsert(
                    tenant=tenant, external_id=agent, display_name=agent, team_external_id=team
                )
            model.moves[agent].append((at, team))
            model.moves[agent].sort()

    # 1. incremental == rebuild
    before = snapshot(tenant)
    buckets_rebuild(tenant=tenant)
    assert snapshot(tenant) == before

    # 2. every value == the oracle, over everything and over each local day
    live = model.live()
    days = [Period("all", None, None)] + [
        period_of("day", (START + timedelta(days=d)).astimezone(tenant.tz).date(), tenant)
        for d in (0, 2)
    ]
    teams = {t.external_id: t for t in Team.objects.for_tenant(tenant)}
    subtree = {"north": {"north", "north-sub"}, "north-sub": {"north-sub"}, "south": {"south"}}
    for period in days:

        def within(e: dict[str, Any], p: Period = period) -> bool:
            return p.contains(datetime.fromisoformat(e["occurred_at"]))

        for agent in Agent.objects.for_tenant(tenant):
            mine = [e for e in live if e.get("agent") == agent.external_id and within(e)]
            compare(agent_kpis(tenant=tenant, agent=agent, period=period), oracle(mine, model))
        for code, team in teams.items():
            theirs = [e for e in live if model.team_of(e) in subtree[code] and within(e)]
            compare(team_kpis(tenant=tenant, team=team, period=period), oracle(theirs, model))


def compare(actual: dict[str, Any], expected: dict[str, tuple[Decimal, Decimal]]) -> None:
    for code, (num, den) in expected.items():
        got = actual[code]
        assert Decimal(str(got.numerator)) == num, (code, got, num, den)
        assert Decimal(str(got.denominator)) == den, (code, got, num, den)
        assert got.value == expected_value(code, num, den), (code, got, num, den)


@pytest.mark.parametrize("portable", [False, True], ids=["unnest", "portable"])
def test_incremental_equals_rebuild_and_oracle(portable, monkeypatch):
    monkeypatch.setattr(buckets, "FORCE_PORTABLE", portable)

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(ops=streams())
    def check(ops: list[tuple[str, Any]]) -> None:
        with transaction.atomic():
            try:
                run(ops)
            finally:
                transaction.set_rollback(True)

    check()
