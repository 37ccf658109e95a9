"""Realistic simulated contact-center traffic, for the demo and the benchmarks.

Each agent has a skill (resolution, quality) and a pace (handle times). Contacts arrive in
business hours with a lunch peak; queue waits grow with load and long waits abandon more often
(abandons never reach an agent: they are team-level events). Handle times are lognormal;
about 70 % of contacts are resolved first time; a fifth of answered contacts get a survey;
agents get the odd QA evaluation and one adherence record per shift. Everything is seeded, so
the same arguments give the same events (and re-running a seed is idempotent).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# Relative arrival rate by local hour (lunch peak at 12–13).
HOURLY_LOAD = {
    8: 0.6,
    9: 1.0,
    10: 1.2,
    11: 1.3,
    12: 1.6,
    13: 1.5,
    14: 1.1,
    15: 1.0,
    16: 0.9,
    17: 0.7,
    18: 0.5,
    19: 0.3,
}
SHIFT_HOURS = 8


@dataclass(frozen=True)
class SimAgent:
    external_id: str
    team: str | None
    skill: float  # ~0.8–1.2: resolution and customer satisfaction
    pace: float  # ~0.8–1.25: multiplies handle times (lower is faster)
    quality: float  # ~0.85–1.1: QA scores
    shift_start: int  # local hour


def profiles(agents: Sequence[tuple[str, str | None]], seed: int) -> list[SimAgent]:
    rng = random.Random(f"profiles-{seed}")
    return [
        SimAgent(
            external_id=external_id,
            team=team,
            skill=min(1.25, max(0.7, rng.gauss(1.0, 0.12))),
            pace=min(1.35, max(0.75, rng.gauss(1.0, 0.12))),
            quality=min(1.12, max(0.8, rng.gauss(0.97, 0.06))),
            shift_start=rng.choice([8, 9, 10, 11]),
        )
        for external_id, team in agents
    ]


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return round(median * math.exp(rng.gauss(0, sigma)), 1)


def _iso(local: datetime) -> str:
    return local.isoformat(timespec="seconds")


def agent_day(
    agent: SimAgent,
    day: date,
    tz: ZoneInfo,
    *,
    seed: int,
    contacts: float = 20.0,
    not_after: datetime | None = None,
) -> list[dict[str, Any]]:
    """One agent's events for one local day."""
    rng = random.Random(f"{seed}-{agent.external_id}-{day.isoformat()}")
    weekend = day.weekday() >= 5
    events: list[dict[str, Any]] = []
    prefix = f"sim{seed}-{agent.external_id}-{day:%Y%m%d}"
    hours = range(agent.shift_start, agent.shift_start + SHIFT_HOURS)
    weights = [HOURLY_LOAD.get(h, 0.2) for h in hours]
    scale = (contacts * (0.6 if weekend else 1.0)) / sum(weights)
    n = 0
    for hour, weight in zip(hours, weights, strict=True):
        # Poisson arrivals with mean weight × scale (Knuth's method: small means).
        expected, threshold, arrivals, product = weight * scale, 0.0, 0, 1.0
        threshold = math.exp(-expected)
        while True:
            product *= rng.random()
            if product <= threshold:
                break
            arrivals += 1
        for _ in range(arrivals):
            n += 1
            at = datetime.combine(day, time(hour), tzinfo=tz) + timedelta(
                seconds=rng.randrange(3600)
            )
            if not_after is not None and at > not_after:
                continue
            events.extend(_contact(rng, agent, at, f"{prefix}-{n}", load=weight))
    # One adherence record per shift, at its end.
    shift_end = datetime.combine(day, time(agent.shift_start), tzinfo=tz) + timedelta(
        hours=SHIFT_HOURS
    )
    if not_after is None or shift_end <= not_after:
        scheduled = SHIFT_HOURS * 3600
        adherent = round(scheduled * min(1.0, max(0.6, rng.gauss(0.93 * agent.quality, 0.04))))
        events.append(
            {
                "event_id": f"{prefix}-adh",
                "type": "adherence",
                "occurred_at": _iso(shift_end - timedelta(seconds=1)),
                "agent": agent.external_id,
                "scheduled_seconds": scheduled,
                "adherent_seconds": min(adherent, scheduled),
            }
        )
    # The odd QA evaluation.
    if rng.random() < 0.35:
        at = datetime.combine(day, time(agent.shift_start + 2), tzinfo=tz)
        if not_after is None or at <= not_after:
            score = min(100.0, max(40.0, rng.gauss(86 * agent.quality, 6)))
            events.append(
                {
                    "event_id": f"{prefix}-qa",
                    "type": "qa_evaluation",
                    "occurred_at": _iso(at),
                    "agent": agent.external_id,
                    "score": round(score, 1),
                    "evaluator": "qa-team",
                }
            )
    return events


def _contact(
    rng: random.Random, agent: SimAgent, at: datetime, event_id: str, *, load: float
) -> list[dict[str, Any]]:
    wait = _lognormal(rng, 12 * load, 0.8)
    channel = rng.choices(["voice", "chat", "email"], weights=[70, 22, 8])[0]
    base = {
        "event_id": event_id,
        "type": "interaction",
        "occurred_at": _iso(at),
        "channel": channel,
        "queue": f"{channel}-general",
        "wait_seconds": wait,
    }
    if rng.random() < min(0.5, wait / 400):
        # Abandoned in queue: the contact never reached an agent.
        if agent.team is None:
            return []
        return [{**base, "team": agent.team, "abandoned": True, "answered": False}]
    talk = _lognormal(rng, 240 * agent.pace, 0.5)
    hold = _lognormal(rng, 45, 0.6) if rng.random() < 0.3 else 0
    acw = _lognormal(rng, 30 * agent.pace, 0.5)
    resolved: bool | None = None
    if rng.random() < 0.9:
        resolved = rng.random() < min(0.95, 0.7 * agent.skill)
    save_attempt = rng.random() < 0.05
    event = {
        **base,
        "agent": agent.external_id,
        "answered": True,
        "talk_seconds": talk,
        "hold_seconds": hold,
        "acw_seconds": acw,
        "transferred": rng.random() < 0.07,
        "resolved_first_contact": resolved,
        "save_attempt": save_attempt,
        "saved": save_attempt and rng.random() < 0.4 * agent.skill,
    }
    events = [event]
    if rng.random() < 0.2:
        mood = agent.skill * (1.1 if resolved else 0.8)
        csat = min(5, max(1, round(rng.gauss(3.2 + 1.3 * mood, 0.9))))
        nps = min(10, max(0, round(rng.gauss(5.5 + 3.0 * mood, 1.8))))
        survey = {
            "event_id": f"{event_id}-s",
            "type": "survey",
            "occurred_at": _iso(at + timedelta(minutes=10)),
            "agent": agent.external_id,
            "csat": csat,
            "nps": nps,
            "interaction_id": event_id,
        }
        if rng.random() < 0.5:
            survey["ces"] = min(7, max(1, round(rng.gauss(5.2 - mood, 1.0))))
        events.append(survey)
    return events


def simulate(
    agents: Sequence[SimAgent],
    *,
    tz: ZoneInfo,
    days: int,
    end_day: date,
    seed: int,
    contacts: float = 20.0,
    now: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Events for `days` local days ending with `end_day`, day by day (chronological per day)."""
    now = now or datetime.now(UTC)
    for offset in range(days - 1, -1, -1):
        day = end_day - timedelta(days=offset)
        day_events: list[dict[str, Any]] = []
        for agent in agents:
            day_events.extend(
                agent_day(agent, day, tz, seed=seed, contacts=contacts, not_after=now)
            )
        day_events.sort(key=lambda e: e["occurred_at"])
        yield from day_events


def live_events(
    agents: Sequence[SimAgent], *, tz: ZoneInfo, now: datetime, count: int, seed: int
) -> list[dict[str, Any]]:
    """A trickle of fresh contacts happening now (unique ids), for `simulate --live`."""
    rng = random.Random(f"live-{seed}-{now.timestamp()}")
    events: list[dict[str, Any]] = []
    local = now.astimezone(tz)
    for i in range(count):
        agent = rng.choice(agents)
        event_id = f"live-{seed}-{int(now.timestamp())}-{i}"
        at = local - timedelta(seconds=rng.randrange(60))
        events.extend(_contact(rng, agent, at, event_id, load=HOURLY_LOAD.get(local.hour, 0.5)))
    return events
