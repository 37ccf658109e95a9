"""Builders shared by the game and contest tests: events, ingestion, rules, badges.

Events are dicts exactly as POST /events takes them; `ingest` stores them and runs the apply
step (game_recompute → live boards → running contests) the way the on-commit task does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from accounts.models import Tenant
from gamify.game import services
from gamify.game.models import AgentDayPoints, Badge, PointAward, PointRule
from kpis.ingest import batches_apply, events_ingest

SHANGHAI = ZoneInfo("Asia/Shanghai")
_ids = itertools.count(1)


def local(day: date | str, hour: int = 10, minute: int = 0, tz: ZoneInfo = SHANGHAI) -> datetime:
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def _base(agent: str | None, when: datetime | str, type_: str, **fields: Any) -> dict[str, Any]:
    occurred = when if isinstance(when, str) else when.isoformat()
    event: dict[str, Any] = {
        "event_id": f"ev-{next(_ids)}",
        "type": type_,
        "occurred_at": occurred,
        **fields,
    }
    if agent is not None:
        event["agent"] = agent
    return event


def call(agent: str, when: datetime | str, *, talk: float = 120, **fields: Any) -> dict[str, Any]:
    """An answered inbound voice call (handle time = talk + hold + acw)."""
    values: dict[str, Any] = {
        "channel": "voice",
        "direction": "inbound",
        "answered": True,
        "talk_seconds": talk,
        **fields,
    }
    return _base(agent, when, "interaction", **values)


def missed(agent: str, when: datetime | str) -> dict[str, Any]:
    """Offered, not answered, not abandoned: no contact handled."""
    return _base(agent, when, "interaction", answered=False, wait_seconds=30)


def survey(agent: str, when: datetime | str, csat: int) -> dict[str, Any]:
    return _base(agent, when, "survey", csat=csat)


def adherence(agent: str, when: datetime | str, scheduled: int, adherent: int) -> dict[str, Any]:
    return _base(agent, when, "adherence", scheduled_seconds=scheduled, adherent_seconds=adherent)


def metric(agent: str, when: datetime | str, kpi: str, value: float) -> dict[str, Any]:
    return _base(agent, when, "metric", kpi=kpi, value=value)


def ingest(tenant: Tenant, events: Iterable[dict[str, Any]]) -> Any:
    """Store events and apply them (what the task queued on commit does)."""
    result = events_ingest(tenant=tenant, items=list(events))
    assert not result.rejected, result.rejected
    batches_apply(tenant_id=tenant.pk)
    return result


def post_events(api: Any, commit: Callable[..., Any], events: list[dict[str, Any]]) -> Any:
    """POST /events over HTTP and run the on-commit apply task."""
    response = commit(lambda: api.post("/api/v1/events", {"events": events}, format="json"))
    assert response.status_code == 202, response.content
    assert response.json()["rejected"] == [], response.json()
    return response


def make_rule(tenant: Tenant, **values: Any) -> PointRule:
    """A point rule through the service, and the recompute its on-commit hook would run."""
    values.setdefault("name", f"{values.get('kind')} {values.get('kpi')}")
    values.setdefault("period", "day")
    rule = services.point_rule_create(tenant=tenant, values=values)
    services.game_rebuild(tenant=tenant)
    return rule


def make_badge(tenant: Tenant, code: str, criteria: dict[str, Any], **values: Any) -> Badge:
    values.setdefault("name", code.replace("-", " ").title())
    badge = services.badge_create(tenant=tenant, code=code, values={**values, "criteria": criteria})
    services.game_rebuild(tenant=tenant)
    return badge


def award(rule: PointRule, agent: Any, start: date | str) -> int | None:
    """The points of one award row, None when there is no row."""
    if isinstance(start, str):
        start = date.fromisoformat(start)
    row = PointAward.objects.filter(rule=rule, agent=agent, period_start=start).first()
    return None if row is None else row.points


def day_points(agent: Any) -> dict[str, int]:
    """{ISO day: points} of an agent's AgentDayPoints rows."""
    return {
        d.isoformat(): p
        for d, p in AgentDayPoints.objects.filter(agent=agent)
        .order_by("day")
        .values_list("day", "points")
    }


def days(first: date | str, count: int) -> list[date]:
    if isinstance(first, str):
        first = date.fromisoformat(first)
    return [first + timedelta(days=n) for n in range(count)]
