"""The KPIs and points of every agent over a period, as CSV rows, for the admin's export.

Built to stream any number of agents in bounded memory: agents are read in chunks by id
(keyset, never OFFSET), and each chunk costs four set-based queries (its agents, their
counter sums, their custom metric sums, their points), so 10,000 agents are ~40 queries and
only one chunk's rows are ever held. The figures come from the same sums and formulas as
the API's KPI and points reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from accounts.models import Agent, Tenant
from accounts.selectors import team_descendants
from gamify.game.selectors import points_by_agent
from kpis.catalogue import kpi_catalogue
from kpis.periods import Period, local_midnight, period_of
from kpis.selectors import agents_kpis

CHUNK = 1000  # agents per round of queries: large enough that round trips do not dominate
MAX_SPAN_DAYS = 366 * 5  # a date range spans at most five years, as the API's custom windows
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportPeriod:
    """The KPIs' period and the points' local days [first_day, after_day) (None: unbounded)."""

    period: Period
    first_day: date | None
    after_day: date | None
    label: str


def export_period(
    *, tenant: Tenant, kind: str, day: date | None = None, last_day: date | None = None
) -> ExportPeriod:
    """A named period holding `day` (day … year, or all), or `custom`: the local days from
    `day` to `last_day`, both included."""
    tz = tenant.tz
    if kind == "all":
        return ExportPeriod(Period("all", None, None), None, None, "all")
    if day is None:
        raise ValueError("a day is needed")
    if kind == "custom":
        last = last_day if last_day is not None else day
        after = last + timedelta(days=1)
        period = Period("custom", local_midnight(day, tz), local_midnight(after, tz))
        return ExportPeriod(period, day, after, f"{day.isoformat()}_{last.isoformat()}")
    period = period_of(kind, day, tenant)
    assert period.start is not None
    assert period.end is not None
    first = period.start.astimezone(tz).date()
    after = period.end.astimezone(tz).date()
    return ExportPeriod(period, first, after, f"{kind}-{first.isoformat()}")


def safe_cell(value: object) -> str:
    """Text a spreadsheet will not run as a formula (a display name "=HYPERLINK(…)")."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def kpi_points_rows(
    *, tenant: Tenant, when: ExportPeriod, team_id: int | None = None, chunk: int = CHUNK
) -> Iterator[list[str]]:
    """The header, then one row per agent (by id): identity, points in the period, and each
    agent KPI's value and volume. `team_id` keeps the agents now in that team or below it."""
    catalogue = kpi_catalogue(tenant)
    codes = [
        code
        for code, kpi in catalogue.items()
        if kpi.formula is None or "agent" in kpi.formula.scopes
    ]
    header = ["agent", "display_name", "team", "active", "points"]
    for code in codes:
        header += [code, f"{code}_volume"]
    yield header
    agents = Agent.objects.for_tenant(tenant)
    if team_id is not None:
        agents = agents.filter(team_id__in=team_descendants(tenant=tenant, team_id=team_id))
    last_id = 0
    while True:
        rows = list(
            agents.filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", "external_id", "display_name", "team__external_id", "active")[:chunk]
        )
        if not rows:
            return
        last_id = rows[-1][0]
        ids = [row[0] for row in rows]
        kpis = agents_kpis(tenant=tenant, agent_ids=ids, period=when.period, catalogue=catalogue)
        points = dict(
            points_by_agent(
                tenant=tenant, first=when.first_day, after=when.after_day, agent_ids=ids
            ).values_list("agent_id", "total")
        )
        for agent_id, external_id, name, team, active in rows:
            values = kpis[agent_id]
            line = [
                safe_cell(external_id),
                safe_cell(name),
                safe_cell(team),
                "true" if active else "false",
                str(int(points.get(agent_id) or 0)),
            ]
            for code in codes:
                value = values.get(code)
                if value is None:
                    line += ["", ""]
                else:
                    line += ["" if value.value is None else str(value.value), str(value.volume)]
            yield line
        if len(rows) < chunk:
            return
