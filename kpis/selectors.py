"""KPI reads: any period is a sum over hourly buckets, never a rescan of raw events (one
exception: `teamless_sums`, the few events of agents without a team, which no team bucket holds)."""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Min, Sum

from accounts.models import Agent, AgentHistory, Team, Tenant
from accounts.selectors import team_descendants
from core.errors import InvalidInputError, NotFoundError
from kpis.catalogue import CatalogueKpi, interaction_settings, kpi_catalogue
from kpis.formulas import COUNTERS, INDEX, KpiValue, builtin_value, event_counters, kpi_value
from kpis.models import (
    AgentDay,
    AgentHour,
    AgentMetricHour,
    RawEvent,
    TeamDay,
    TeamHour,
    TeamMetricHour,
)
from kpis.periods import GRANULARITIES, Period, granules, local_midnight
from kpis.schemas import TYPE_NAMES

E4 = Decimal(10_000)
MAX_POINTS = 5000


# --- bucket reads: the one API every reader of the buckets uses (KPI endpoints, boards) -----
SUBJECT_KEYS = {"agent": "agent_id", "team": "team_id"}
COUNTER_MODELS: dict[tuple[str, bool], Any] = {
    ("agent", True): AgentDay,
    ("agent", False): AgentHour,
    ("team", True): TeamDay,
    ("team", False): TeamHour,
}
METRIC_MODELS: dict[str, Any] = {"agent": AgentMetricHour, "team": TeamMetricHour}


def counter_rows(
    *,
    tenant_id: int,
    entity: str,
    start: datetime | None,
    end: datetime | None,
    tz: Any,
    by_day: bool,
    ids: Iterable[int] | None = None,
) -> Any:
    """Counter buckets of agents or teams (`entity`) in the window [start, end) (None: open),
    of the subjects `ids` (None: every one). `by_day`: day buckets, for a window of whole
    local days in `tz`; else hour buckets."""
    key = SUBJECT_KEYS[entity]
    rows = COUNTER_MODELS[entity, by_day].objects.filter(tenant_id=tenant_id)
    if ids is not None:
        rows = rows.filter(**{f"{key}__any": ids})
    if by_day:
        if start is not None:
            rows = rows.filter(day__gte=start.astimezone(tz).date())
        if end is not None:
            rows = rows.filter(day__lt=end.astimezone(tz).date())
    else:
        if start is not None:
            rows = rows.filter(hour__gte=start)
        if end is not None:
            rows = rows.filter(hour__lt=end)
    return rows


def metric_rows(
    *,
    tenant_id: int,
    entity: str,
    start: datetime | None,
    end: datetime | None,
    ids: Iterable[int] | None = None,
    kpi: str | None = None,
) -> Any:
    """Custom-KPI metric buckets (hourly) of agents or teams in the window, of one KPI or all."""
    rows = METRIC_MODELS[entity].objects.filter(tenant_id=tenant_id)
    if kpi is not None:
        rows = rows.filter(kpi=kpi)
    if ids is not None:
        rows = rows.filter(**{f"{SUBJECT_KEYS[entity]}__any": ids})
    if start is not None:
        rows = rows.filter(hour__gte=start)
    if end is not None:
        rows = rows.filter(hour__lt=end)
    return rows


def counter_sums_by_subject(
    *,
    tenant_id: int,
    entity: str,
    start: datetime | None,
    end: datetime | None,
    tz: Any,
    by_day: bool,
    ids: Iterable[int] | None = None,
) -> dict[int, list[int]]:
    """{subject id: Σ of every counter} over the window (one query, grouped by subject)."""
    key = SUBJECT_KEYS[entity]
    rows = counter_rows(
        tenant_id=tenant_id, entity=entity, start=start, end=end, tz=tz, by_day=by_day, ids=ids
    )
    return {
        row[key]: [int(row[f"s_{c}"] or 0) for c in COUNTERS]
        for row in rows.values(key).annotate(**{f"s_{c}": Sum(c) for c in COUNTERS})
    }


def metric_sums_by_subject(
    *,
    tenant_id: int,
    entity: str,
    kpi: str,
    start: datetime | None,
    end: datetime | None,
    ids: Iterable[int] | None = None,
) -> dict[int, tuple[int, int]]:
    """{subject id: (Σ value_e4, Σ count_e4)} of one custom KPI over the window."""
    key = SUBJECT_KEYS[entity]
    rows = metric_rows(tenant_id=tenant_id, entity=entity, start=start, end=end, ids=ids, kpi=kpi)
    return {
        subject: (int(v or 0), int(c or 0))
        for subject, v, c in rows.values(key)
        .annotate(v=Sum("value_e4"), c=Sum("count_e4"))
        .values_list(key, "v", "c")
    }


def _subject(agent_id: int | None, team_ids: set[int] | None) -> tuple[str, Iterable[int]]:
    """One agent, or a set of teams read as one (a team and its sub-teams)."""
    return ("agent", [agent_id]) if agent_id is not None else ("team", team_ids or ())


def bucket_rows(
    *, tenant: Tenant, period: Period, agent_id: int | None = None, team_ids: set[int] | None = None
) -> Any:
    """The subject's counter buckets in the period: day buckets when the period is made of whole
    local days (every period but a custom window), else hour buckets."""
    entity, ids = _subject(agent_id, team_ids)
    return counter_rows(
        tenant_id=tenant.pk,
        entity=entity,
        start=period.start,
        end=period.end,
        tz=tenant.tz,
        by_day=period.type != "custom",
        ids=ids,
    )


def counter_sums(
    *, tenant: Tenant, period: Period, agent_id: int | None = None, team_ids: set[int] | None = None
) -> list[int]:
    """Σ of every counter over the subject's buckets in the period (one query)."""
    rows = bucket_rows(tenant=tenant, period=period, agent_id=agent_id, team_ids=team_ids)
    sums = rows.aggregate(**{c: Sum(c) for c in COUNTERS})
    return [int(sums[c] or 0) for c in COUNTERS]


def metric_sums(
    *, tenant: Tenant, period: Period, agent_id: int | None = None, team_ids: set[int] | None = None
) -> dict[str, tuple[int, int]]:
    """{custom KPI code: (Σ value_e4, Σ count_e4)} over the subject's metric buckets."""
    entity, ids = _subject(agent_id, team_ids)
    rows = metric_rows(
        tenant_id=tenant.pk, entity=entity, start=period.start, end=period.end, ids=ids
    )
    return {
        kpi: (int(v or 0), int(c or 0))
        for kpi, v, c in rows.values("kpi")
        .annotate(v=Sum("value_e4"), c=Sum("count_e4"))
        .values_list("kpi", "v", "c")
    }


def custom_value(kpi: CatalogueKpi, value_e4: int, count_e4: int) -> KpiValue:
    return kpi_value(
        numerator=Decimal(value_e4) / E4,
        denominator=Decimal(count_e4) / E4,
        factor=kpi.factor,
        aggregation=kpi.aggregation,
        min_volume=kpi.min_volume,
    )


def values_from(
    catalogue: dict[str, CatalogueKpi],
    sums: Sequence[int],
    metrics: dict[str, tuple[int, int]],
    *,
    subject: str,
    turnover: KpiValue | None = None,
) -> dict[str, KpiValue]:
    values: dict[str, KpiValue] = {}
    for code, kpi in catalogue.items():
        if kpi.formula is not None:
            if subject not in kpi.formula.scopes:
                continue
            if code == "turnover":
                if turnover is not None:
                    values[code] = turnover
                continue
            values[code] = builtin_value(kpi.formula, sums, kpi.min_volume)
        else:
            values[code] = custom_value(kpi, *metrics.get(code, (0, 0)))
    return values


def agent_kpis(*, tenant: Tenant, agent: Agent, period: Period) -> dict[str, KpiValue]:
    """Every KPI of one agent over a period."""
    catalogue = kpi_catalogue(tenant)
    sums = counter_sums(tenant=tenant, period=period, agent_id=agent.pk)
    metrics = metric_sums(tenant=tenant, period=period, agent_id=agent.pk)
    return values_from(catalogue, sums, metrics, subject="agent")


def team_kpis(*, tenant: Tenant, team: Team, period: Period) -> dict[str, KpiValue]:
    """Every KPI of a team over a period: its sub-teams and team-level events included."""
    catalogue = kpi_catalogue(tenant)
    subtree = team_descendants(tenant=tenant, team_id=team.pk)
    sums = counter_sums(tenant=tenant, period=period, team_ids=subtree)
    metrics = metric_sums(tenant=tenant, period=period, team_ids=subtree)
    turnover = turnover_value(
        tenant=tenant, team_ids=subtree, period=period, kpi=catalogue["turnover"]
    )
    return values_from(catalogue, sums, metrics, subject="team", turnover=turnover)


Timeline = list[tuple[datetime, int | None, bool]]  # (valid_from, team id, active), in order


def agent_timelines(*, tenant: Tenant, team_ids: set[int] | None = None) -> dict[int, Timeline]:
    """Each agent's history (one query); with `team_ids`, only agents ever in those teams."""
    history = AgentHistory.objects.for_tenant(tenant)
    if team_ids is not None:
        members = history.filter(team_id__in=team_ids).values("agent_id")
        history = history.filter(agent_id__in=members)
    timelines: dict[int, Timeline] = defaultdict(list)
    for agent_id, valid_from, team_id, active in history.order_by(
        "agent_id", "valid_from", "id"
    ).values_list("agent_id", "valid_from", "team_id", "active"):
        timelines[agent_id].append((valid_from, team_id, active))
    return timelines


def turnover_value(
    *,
    tenant: Tenant,
    team_ids: set[int] | None,
    period: Period,
    kpi: CatalogueKpi,
    moves_count_as_leaving: bool = False,
    timelines: dict[int, Timeline] | None = None,
) -> KpiValue:
    """Deactivations in the period / average headcount ((active at start + at end) / 2).

    An agent counts for a team while its history puts it there; `team_ids=None` is the tenant.
    With `moves_count_as_leaving`, an active agent moved out of the teams has left them too
    (never the tenant). `timelines` (agent_timelines of the whole tenant) saves the query when
    many teams are computed at once.
    """
    if timelines is None:
        timelines = agent_timelines(tenant=tenant, team_ids=team_ids)

    def inside(team_id: int | None) -> bool:
        return team_ids is None or team_id in team_ids

    def counted(state: tuple[datetime, int | None, bool] | None) -> bool:
        return bool(state and state[2] and inside(state[1]))

    def state_at(timeline: Timeline, instant: datetime | None):
        if instant is None:
            return timeline[-1]
        index = bisect_right([s[0] for s in timeline], instant) - 1
        return timeline[index] if index >= 0 else None

    leavers = at_start = at_end = 0
    for timeline in timelines.values():
        at_start += period.start is not None and counted(state_at(timeline, period.start))
        at_end += counted(state_at(timeline, period.end))
        for previous, current in itertools.pairwise(timeline):
            if not (previous[2] and inside(previous[1]) and period.contains(current[0])):
                continue
            if not current[2] or (moves_count_as_leaving and not inside(current[1])):
                leavers += 1
    headcount = Decimal(at_start + at_end) / 2
    return kpi_value(
        numerator=Decimal(leavers),
        denominator=headcount,
        factor=kpi.factor,
        aggregation="ratio",
        min_volume=kpi.min_volume,
    )


def kpi_series(
    *,
    tenant: Tenant,
    code: str,
    period: Period,
    granularity: str,
    agent: Agent | None = None,
    team: Team | None = None,
) -> list[dict[str, Any]]:
    """One point per granule of the period (empty granules included, value null)."""
    if granularity not in GRANULARITIES:
        raise InvalidInputError({"granularity": f"Must be one of {', '.join(GRANULARITIES)}."})
    catalogue = kpi_catalogue(tenant)
    kpi = catalogue.get(code)
    subject = "agent" if agent is not None else "team"
    if kpi is None or (kpi.formula is not None and subject not in kpi.formula.scopes):
        raise NotFoundError(f"No {subject} KPI {code!r}.")
    team_ids: Any = team_descendants(tenant=tenant, team_id=team.pk) if team else None
    agent_id: Any = agent.pk if agent is not None else None
    first = None
    if period.start is None:
        model: Any = AgentHour if agent is not None else TeamHour
        subject_filter = {"agent_id": agent_id} if agent is not None else {"team_id__in": team_ids}
        first = model.objects.filter(tenant_id=tenant.pk, **subject_filter).aggregate(
            first=Min("hour")
        )["first"]
    spans = list(granules(period, granularity, tenant, first=first))
    if len(spans) > MAX_POINTS:
        raise InvalidInputError(
            {"granularity": f"Too many points ({len(spans)} > {MAX_POINTS}): choose a coarser one."}
        )
    if not spans:
        return []
    whole = Period(period.type, spans[0][0], spans[-1][1])
    starts = [s for s, _ in spans]
    if code == "turnover":
        values = [
            turnover_value(tenant=tenant, team_ids=team_ids, period=Period("custom", s, e), kpi=kpi)
            for s, e in spans
        ]
    elif kpi.formula is not None:
        names = sorted({n for n, _ in kpi.formula.numerator + kpi.formula.denominator})
        sums = [[0] * len(COUNTERS) for _ in spans]
        if granularity == "hour" or period.type == "custom":
            rows = bucket_rows(
                tenant=tenant,
                period=Period("custom", whole.start, whole.end),
                agent_id=agent_id,
                team_ids=team_ids,
            ).values_list("hour", *names)
            keys: list[Any] = starts
        else:
            rows = bucket_rows(
                tenant=tenant,
                period=Period("day", whole.start, whole.end),
                agent_id=agent_id,
                team_ids=team_ids,
            ).values_list("day", *names)
            keys = [s.astimezone(tenant.tz).date() for s in starts]
        for key, *counts in rows:
            target = sums[bisect_right(keys, key) - 1]
            for name, count in zip(names, counts, strict=True):
                target[INDEX[name]] += count
        values = [builtin_value(kpi.formula, s, kpi.min_volume) for s in sums]
    else:
        entity, ids = _subject(agent_id, team_ids)
        pairs = [[0, 0] for _ in spans]
        for hour, value_e4, count_e4 in metric_rows(
            tenant_id=tenant.pk, entity=entity, start=whole.start, end=whole.end, ids=ids, kpi=code
        ).values_list("hour", "value_e4", "count_e4"):
            pair = pairs[bisect_right(starts, hour) - 1]
            pair[0] += value_e4
            pair[1] += count_e4
        values = [custom_value(kpi, v, c) for v, c in pairs]
    return [
        {
            "start": start.astimezone(tenant.tz).isoformat(),
            "value": value.value,
            "numerator": value.numerator,
            "denominator": value.denominator,
            "volume": value.volume,
        }
        for (start, _), value in zip(spans, values, strict=True)
    ]


def agent_day_counters(
    *, tenant: Tenant, agent_ids: set[int] | None, start: date | None, end: date | None
) -> dict[tuple[int, date], list[int]]:
    """{(agent id, local day): counters} for days in [start, end) (one query, through the
    shared bucket read `counter_rows`).

    `agent_ids=None` reads every agent of the tenant.
    """
    tz = tenant.tz
    rows = counter_rows(
        tenant_id=tenant.pk,
        entity="agent",
        start=local_midnight(start, tz) if start is not None else None,
        end=local_midnight(end, tz) if end is not None else None,
        tz=tz,
        by_day=True,
        ids=agent_ids,
    )
    return {(a, d): list(c) for a, d, *c in rows.values_list("agent_id", "day", *COUNTERS)}


def agent_day_metrics(
    *, tenant: Tenant, agent_ids: set[int] | None, start: date | None, end: date | None
) -> dict[tuple[int, str, date], tuple[int, int]]:
    """{(agent id, custom KPI, local day): (Σ value_e4, Σ count_e4)} for days in [start, end)
    (one query, through the shared bucket read `metric_rows`)."""
    tz = tenant.tz
    rows = metric_rows(
        tenant_id=tenant.pk,
        entity="agent",
        start=local_midnight(start, tz) if start is not None else None,
        end=local_midnight(end, tz) if end is not None else None,
        ids=agent_ids,
    )
    out: dict[tuple[int, str, date], tuple[int, int]] = {}
    for agent_id, kpi, hour, value, count in rows.values_list(
        "agent_id", "kpi", "hour", "value_e4", "count_e4"
    ):
        key = (agent_id, kpi, hour.astimezone(tz).date())
        v, c = out.get(key, (0, 0))
        out[key] = (v + value, c + count)
    return out


def agents_counter_sums(
    *, tenant: Tenant, period: Period, agent_ids: set[int]
) -> dict[int, list[int]]:
    """{agent id: Σ counters over the period} for many agents in one grouped query (agents
    without buckets in the period are absent)."""
    return counter_sums_by_subject(
        tenant_id=tenant.pk,
        entity="agent",
        start=period.start,
        end=period.end,
        tz=tenant.tz,
        by_day=period.type != "custom",
        ids=agent_ids,
    )


def teams_counter_sums(*, tenant: Tenant, period: Period) -> dict[int, list[int]]:
    """{team id: Σ counters of the events attributed to the team itself} for every team of
    the tenant in one grouped query; a subtree's figures are the sum of its teams'."""
    return counter_sums_by_subject(
        tenant_id=tenant.pk,
        entity="team",
        start=period.start,
        end=period.end,
        tz=tenant.tz,
        by_day=period.type != "custom",
    )


def teamless_sums(
    *, tenant: Tenant, period: Period
) -> tuple[list[int], dict[str, tuple[int, int]]]:
    """(Σ counters, {custom KPI: (Σ value_e4, Σ count_e4)}) of the period's events of agents
    who had no team then (and named none): the events no team bucket holds, which a
    tenant-wide figure adds to the sum of its teams'.

    Folded from the raw events as the buckets are (`event_counters`), through the partial
    index of exactly those events (`rawevent_teamless`), so the cost is their number only."""
    from kpis.ingest.fold import e4  # fold imports the buckets, which import this module

    rows = RawEvent.objects.filter(
        tenant_id=tenant.pk, team_id__isnull=True, agent_id__isnull=False, voided_at__isnull=True
    )
    if period.start is not None:
        rows = rows.filter(occurred_at__gte=period.start)
    if period.end is not None:
        rows = rows.filter(occurred_at__lt=period.end)
    settings = interaction_settings(tenant)
    sums = [0] * len(COUNTERS)
    metrics: dict[str, tuple[int, int]] = {}
    for code, payload in rows.values_list("type", "payload").iterator(chunk_size=2000):
        name = TYPE_NAMES[code]
        for i, v in enumerate(event_counters(name, payload, settings)):
            sums[i] += v
        if name == "metric":
            v, c = metrics.get(payload["kpi"], (0, 0))
            metrics[payload["kpi"]] = (v + e4(payload["value"]), c + e4(payload.get("count", 1)))
    return sums, metrics


def subjects_metric_sums(
    *, tenant: Tenant, period: Period, agent_ids: set[int] | None = None
) -> dict[int, dict[str, tuple[int, int]]]:
    """{agent id: {custom KPI: (Σ value_e4, Σ count_e4)}} for many agents (one query); with
    `agent_ids=None`, {team id: …} for every team of the tenant."""
    entity = "agent" if agent_ids is not None else "team"
    subject = SUBJECT_KEYS[entity]
    rows = metric_rows(
        tenant_id=tenant.pk, entity=entity, start=period.start, end=period.end, ids=agent_ids
    )
    out: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for pk, kpi, v, c in (
        rows.values(subject, "kpi")
        .annotate(v=Sum("value_e4"), c=Sum("count_e4"))
        .values_list(subject, "kpi", "v", "c")
        .order_by()
    ):
        out[pk][kpi] = (int(v or 0), int(c or 0))
    return out


def agents_kpis(
    *,
    tenant: Tenant,
    agent_ids: Sequence[int],
    period: Period,
    catalogue: dict[str, CatalogueKpi] | None = None,
) -> dict[int, dict[str, KpiValue]]:
    """Every KPI of each of several agents over a period, with set-based SQL: one query for
    the counters and one for the custom metrics, grouped by agent, whatever the number of
    agents. The same sums and formulas as `agent_kpis`, so the figures are the API's.
    A caller reading many chunks passes the `catalogue` it read once."""
    catalogue = catalogue if catalogue is not None else kpi_catalogue(tenant)
    ids = list(agent_ids)
    sums = agents_counter_sums(tenant=tenant, period=period, agent_ids=set(ids))
    metrics = subjects_metric_sums(tenant=tenant, period=period, agent_ids=set(ids))
    zero = [0] * len(COUNTERS)
    return {
        agent_id: values_from(
            catalogue, sums.get(agent_id, zero), metrics.get(agent_id, {}), subject="agent"
        )
        for agent_id in ids
    }
