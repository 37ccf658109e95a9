"""Folding events into bucket rows: counters per (subject, local hour) and (subject, local
day), metric sums per (subject, KPI, hour), in the tenant's zone; `sign=-1` takes an event out
again (a void). The rows are written with `buckets.fold` (an upsert that adds)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kpis import buckets
from kpis.formulas import InteractionSettings, event_counters

SLOT_SECONDS = 900
SLOT_LAST = timedelta(seconds=SLOT_SECONDS - 1)


def local_hour_and_day(instant: datetime, tz: Any) -> tuple[datetime, date]:
    local = instant.astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC), local.date()


@dataclass
class Folded:
    """Bucket rows accumulated from events, ready for `buckets.fold`."""

    agent_hours: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    team_hours: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    agent_metrics: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    team_metrics: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    agent_days: dict[int, set[date]] = field(default_factory=lambda: defaultdict(set))
    team_days: dict[int, set[date]] = field(default_factory=lambda: defaultdict(set))
    # UTC quarter hour → (its local hour, as a UTC instant; its local date): see local_slot.
    slots: dict[int, tuple[datetime, date]] = field(default_factory=dict)

    def local_slot(self, instant: datetime, tz: Any) -> tuple[datetime, date]:
        """The bucket hour and local date of an instant, worked out once per UTC quarter hour.

        Every current time zone's offset is a whole number of quarter hours and changes only
        on a quarter hour, so a UTC quarter hour lies inside one local hour and one local
        date. A quarter hour whose ends disagree on that (a historic local mean time, say)
        is worked out per event.
        """
        slot = int(instant.timestamp() // SLOT_SECONDS)
        known = self.slots.get(slot)
        if known is None:
            known = local_hour_and_day(instant, tz)
            first = datetime.fromtimestamp(slot * SLOT_SECONDS, UTC)
            ends = [local_hour_and_day(t, tz) for t in (first, first + SLOT_LAST)]
            if ends[0] != ends[1] or ends[0] != known:
                return known
            self.slots[slot] = known
        return known

    def add(
        self,
        *,
        type_name: str,
        payload: dict[str, Any],
        occurred_at: datetime,
        agent_id: int | None,
        team_id: int | None,
        settings: InteractionSettings,
        tz: Any,
        sign: int = 1,
    ) -> None:
        hour, day = self.local_slot(occurred_at, tz)
        counters = event_counters(type_name, payload, settings)
        changed = [(i, v) for i, v in enumerate(counters) if v]
        metric = None
        if type_name == "metric":
            metric = [
                sign * e4(payload["value"]),
                sign * e4(payload.get("count", 1)),
                sign,
            ]
        for subject, hours, metrics_rows, days in (
            (agent_id, self.agent_hours, self.agent_metrics, self.agent_days),
            (team_id, self.team_hours, self.team_metrics, self.team_days),
        ):
            if subject is None:
                continue
            days[subject].add(day)
            row = hours.get((subject, hour))
            if row is None:
                hours[(subject, hour)] = counters if sign == 1 else [-v for v in counters]
                counters = list(counters)  # the next subject gets its own row
            else:
                for i, v in changed:
                    row[i] += sign * v
            if metric is not None:
                key = (subject, payload["kpi"], hour)
                existing = metrics_rows.get(key)
                if existing is None:
                    metrics_rows[key] = list(metric)
                else:
                    for i in range(3):
                        existing[i] += metric[i]

    def by_day(
        self, hours: dict[tuple[Any, ...], list[int]], tz: Any
    ) -> dict[tuple[Any, ...], list[int]]:
        """Hour rows summed per (subject, local date)."""
        days: dict[tuple[Any, ...], list[int]] = {}
        local_date: dict[datetime, date] = {}
        for (subject, hour), counters in hours.items():
            day = local_date.get(hour)
            if day is None:
                day = local_date[hour] = hour.astimezone(tz).date()
            row = days.get((subject, day))
            if row is None:
                days[(subject, day)] = list(counters)
            else:
                for i, v in enumerate(counters):
                    if v:
                        row[i] += v
        return days

    def day_rows(
        self, tz: Any
    ) -> tuple[dict[tuple[Any, ...], list[int]], dict[tuple[Any, ...], list[int]]]:
        return self.by_day(self.agent_hours, tz), self.by_day(self.team_hours, tz)

    def write(self, tenant_id: int, tz: Any) -> None:
        buckets.fold(buckets.AGENT_HOUR, "agent_id", tenant_id=tenant_id, rows=self.agent_hours)
        agent_days, team_days = self.day_rows(tz)
        buckets.fold(
            buckets.AGENT_DAY, "agent_id", tenant_id=tenant_id, rows=agent_days, key_parts=("day",)
        )
        buckets.fold(buckets.TEAM_HOUR, "team_id", tenant_id=tenant_id, rows=self.team_hours)
        buckets.fold(
            buckets.TEAM_DAY, "team_id", tenant_id=tenant_id, rows=team_days, key_parts=("day",)
        )
        for table, key, rows in (
            (buckets.AGENT_METRIC, "agent_id", self.agent_metrics),
            (buckets.TEAM_METRIC, "team_id", self.team_metrics),
        ):
            buckets.fold(
                table,
                key,
                tenant_id=tenant_id,
                rows=rows,
                columns=buckets.METRIC_COLUMNS,
                key_parts=("kpi", "hour"),
            )

    def touched(self) -> dict[str, dict[str, list[str]]]:
        return {
            "agents": {
                str(a): sorted(d.isoformat() for d in days) for a, days in self.agent_days.items()
            },
            "teams": {
                str(t): sorted(d.isoformat() for d in days) for t, days in self.team_days.items()
            },
        }


def e4(value: float | int) -> int:
    return int(Decimal(str(value)).scaleb(4).to_integral_value(ROUND_HALF_UP))
