"""The KPI formulas: what each event adds to the hourly counters, and what each KPI is.

Every built-in KPI is a ratio of sums of *counters* (DESIGN.md §4):

    value = factor × (Σ numerator / num_divisor) / (Σ denominator / den_divisor)

An event adds a fixed vector of integer counters to its (agent, local hour) and (team, local
hour) buckets; durations are kept in milliseconds and QA scores in hundredths, so sums are
exact integers. A period, a team, a site is then a sum of buckets — never an average of
averages. `event_counters` is the one place these contributions are defined: ingestion, voids
and rebuilds all call it, so incremental state and a rebuild cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

# Built-in KPI names are marked for translation (the admin shows them in the manager's
# language, display_name); the API keeps them in English.
from django.utils.translation import gettext, gettext_noop

# The counters kept per (agent or team, local hour). Order is the storage order.
COUNTERS: tuple[str, ...] = (
    "events",  # raw events folded into this bucket
    "attempts",  # interaction events (contact attempts)
    "offered",  # offered to a queue
    "answered",  # answered by an agent
    "abandoned",  # offered and abandoned before an answer
    "short_abandoned",  # … within the tenant's short-abandon cut-off (excluded from rates)
    "answered_in_sl",  # offered and answered within the service-level threshold
    "blocked",  # attempts that got a busy signal
    "transferred",  # answered and transferred
    "fcr_known",  # interactions with a known first-contact resolution
    "fcr_resolved",  # … resolved on first contact
    "talk_ms",  # answered interactions' talk time
    "hold_ms",
    "acw_ms",
    "handle_ms",  # talk + hold + after-call work
    "wait_answered_ms",  # queue wait of answered interactions (ASA)
    "wait_offered_ms",  # queue wait of offered interactions
    "save_attempts",
    "saves",
    "csat_responses",
    "csat_top2",  # CSAT 4 or 5
    "csat_sum",
    "nps_responses",
    "nps_promoters",  # 9–10
    "nps_detractors",  # 0–6
    "ces_responses",
    "ces_sum",
    "qa_evaluations",
    "qa_score_centi",  # QA score × 100
    "scheduled_ms",
    "adherent_ms",
)
INDEX = {name: i for i, name in enumerate(COUNTERS)}
N_COUNTERS = len(COUNTERS)

Counters = list[int]

# Interaction settings a tenant can change (`PATCH /kpis/service_level|abandon_rate`).
DEFAULT_THRESHOLD_SECONDS = 20
DEFAULT_SHORT_ABANDON_SECONDS = 5


@dataclass(frozen=True)
class InteractionSettings:
    threshold_seconds: int = DEFAULT_THRESHOLD_SECONDS
    short_abandon_seconds: int = DEFAULT_SHORT_ABANDON_SECONDS


def ms(seconds: float | int | None) -> int:
    """Seconds (as sent, kept to the millisecond) to integer milliseconds.

    Float arithmetic is exact enough here: for any value given with up to 3 decimals,
    `seconds * 1000` lies within 1e-9 of an integer, so rounding recovers it exactly.
    """
    if not seconds:
        return 0
    return round(seconds * 1000)


def event_counters(
    event_type: str, payload: Mapping[str, Any], settings: InteractionSettings
) -> Counters:
    """What one event adds to its buckets (a vector over COUNTERS)."""
    c = [0] * N_COUNTERS
    c[0] = 1
    if event_type == "interaction":
        _interaction(c, payload, settings)
    elif event_type == "survey":
        _survey(c, payload)
    elif event_type == "qa_evaluation":
        c[INDEX["qa_evaluations"]] = 1
        c[INDEX["qa_score_centi"]] = int(
            Decimal(str(payload["score"])).scaleb(2).to_integral_value(ROUND_HALF_UP)
        )
    elif event_type == "adherence":
        c[INDEX["scheduled_ms"]] = ms(payload["scheduled_seconds"])
        c[INDEX["adherent_ms"]] = ms(payload["adherent_seconds"])
    # `metric` events feed custom KPIs (their own buckets); here they only count as events.
    return c


def _interaction(c: Counters, p: Mapping[str, Any], s: InteractionSettings) -> None:
    offered = p.get("offered", True)
    answered = bool(p.get("answered"))
    wait = ms(p.get("wait_seconds"))
    c[INDEX["attempts"]] = 1
    if p.get("blocked"):
        c[INDEX["blocked"]] = 1
    if offered:
        c[INDEX["offered"]] = 1
        c[INDEX["wait_offered_ms"]] = wait
        if p.get("abandoned"):
            c[INDEX["abandoned"]] = 1
            if wait < s.short_abandon_seconds * 1000:
                c[INDEX["short_abandoned"]] = 1
        if answered and wait <= s.threshold_seconds * 1000:
            c[INDEX["answered_in_sl"]] = 1
    if answered:
        talk, hold, acw = (
            ms(p.get("talk_seconds")),
            ms(p.get("hold_seconds")),
            ms(p.get("acw_seconds")),
        )
        c[INDEX["answered"]] = 1
        c[INDEX["talk_ms"]] = talk
        c[INDEX["hold_ms"]] = hold
        c[INDEX["acw_ms"]] = acw
        c[INDEX["handle_ms"]] = talk + hold + acw
        c[INDEX["wait_answered_ms"]] = wait
        if p.get("transferred"):
            c[INDEX["transferred"]] = 1
    resolved = p.get("resolved_first_contact")
    if resolved is not None:
        c[INDEX["fcr_known"]] = 1
        if resolved:
            c[INDEX["fcr_resolved"]] = 1
    if p.get("save_attempt"):
        c[INDEX["save_attempts"]] = 1
        if p.get("saved"):
            c[INDEX["saves"]] = 1


def _survey(c: Counters, p: Mapping[str, Any]) -> None:
    csat, nps, ces = p.get("csat"), p.get("nps"), p.get("ces")
    if csat is not None:
        c[INDEX["csat_responses"]] = 1
        c[INDEX["csat_sum"]] = int(csat)
        c[INDEX["csat_top2"]] = 1 if csat >= 4 else 0
    if nps is not None:
        c[INDEX["nps_responses"]] = 1
        c[INDEX["nps_promoters"]] = 1 if nps >= 9 else 0
        c[INDEX["nps_detractors"]] = 1 if nps <= 6 else 0
    if ces is not None:
        c[INDEX["ces_responses"]] = 1
        c[INDEX["ces_sum"]] = int(ces)


# --- the KPI catalogue -----------------------------------------------------------------------
Unit = Literal["percent", "seconds", "count", "score"]
Direction = Literal["higher_is_better", "lower_is_better"]
Terms = tuple[tuple[str, int], ...]  # Σ coefficient × counter


@dataclass(frozen=True)
class KpiFormula:
    code: str
    name: str
    unit: Unit
    direction: Direction
    min_volume: Decimal
    numerator: Terms
    denominator: Terms
    factor: Decimal = Decimal(1)  # 100 for percentages and NPS
    num_divisor: int = 1  # counters in ms or hundredths → natural units
    den_divisor: int = 1
    aggregation: Literal["ratio", "sum"] = "ratio"
    settings: tuple[str, ...] = ()  # names of tenant settings this KPI has
    scopes: tuple[str, ...] = ("agent", "team")
    description: str = ""

    def numerator_of(self, sums: Sequence[int]) -> int:
        return sum(coef * sums[INDEX[name]] for name, coef in self.numerator)

    def denominator_of(self, sums: Sequence[int]) -> int:
        return sum(coef * sums[INDEX[name]] for name, coef in self.denominator)


def _t(*names: str) -> Terms:
    return tuple((n, 1) for n in names)


_P, _S, _C = Decimal(100), Decimal(1), Decimal(1)
UP: Direction = "higher_is_better"
DOWN: Direction = "lower_is_better"
_OFFERED_COUNTED: Terms = (("offered", 1), ("short_abandoned", -1))

BUILTIN: dict[str, KpiFormula] = {
    k.code: k
    for k in (
        KpiFormula(
            "fcr",
            gettext_noop("First contact resolution"),
            "percent",
            UP,
            Decimal(10),
            _t("fcr_resolved"),
            _t("fcr_known"),
            _P,
            description="Resolved on first contact / interactions with a known resolution",
        ),
        KpiFormula(
            "aht",
            gettext_noop("Average handle time"),
            "seconds",
            DOWN,
            Decimal(10),
            _t("handle_ms"),
            _t("answered"),
            num_divisor=1000,
            description="(talk + hold + after-call work) / answered",
        ),
        KpiFormula(
            "talk_time",
            gettext_noop("Average talk time"),
            "seconds",
            DOWN,
            Decimal(10),
            _t("talk_ms"),
            _t("answered"),
            num_divisor=1000,
        ),
        KpiFormula(
            "hold_time",
            gettext_noop("Average hold time"),
            "seconds",
            DOWN,
            Decimal(10),
            _t("hold_ms"),
            _t("answered"),
            num_divisor=1000,
        ),
        KpiFormula(
            "acw",
            gettext_noop("Average after-call work"),
            "seconds",
            DOWN,
            Decimal(10),
            _t("acw_ms"),
            _t("answered"),
            num_divisor=1000,
        ),
        KpiFormula(
            "asa",
            gettext_noop("Average speed of answer"),
            "seconds",
            DOWN,
            Decimal(10),
            _t("wait_answered_ms"),
            _t("answered"),
            num_divisor=1000,
            description="Queue wait of answered interactions / answered",
        ),
        KpiFormula(
            "queue_time",
            gettext_noop("Average time in queue"),
            "seconds",
            DOWN,
            Decimal(10),
            _t("wait_offered_ms"),
            _t("offered"),
            num_divisor=1000,
            description="Queue wait of offered interactions / offered",
        ),
        KpiFormula(
            "abandon_rate",
            gettext_noop("Abandonment rate"),
            "percent",
            DOWN,
            Decimal(20),
            (("abandoned", 1), ("short_abandoned", -1)),
            _OFFERED_COUNTED,
            _P,
            settings=("short_abandon_seconds",),
            description="Abandoned / offered, short abandons excluded from both",
        ),
        KpiFormula(
            "service_level",
            gettext_noop("Service level"),
            "percent",
            UP,
            Decimal(20),
            _t("answered_in_sl"),
            _OFFERED_COUNTED,
            _P,
            settings=("threshold_seconds", "short_abandon_seconds"),
            description="Answered within the threshold / offered (short abandons excluded)",
        ),
        KpiFormula(
            "blocked_rate",
            gettext_noop("Blocked rate"),
            "percent",
            DOWN,
            Decimal(20),
            _t("blocked"),
            _t("attempts"),
            _P,
        ),
        KpiFormula(
            "transfer_rate",
            gettext_noop("Transfer rate"),
            "percent",
            DOWN,
            Decimal(10),
            _t("transferred"),
            _t("answered"),
            _P,
        ),
        KpiFormula(
            "contacts_handled",
            gettext_noop("Contacts handled"),
            "count",
            UP,
            Decimal(1),
            _t("answered"),
            _t("answered"),
            aggregation="sum",
        ),
        KpiFormula(
            "csat",
            gettext_noop("Customer satisfaction (top-2-box)"),
            "percent",
            UP,
            Decimal(5),
            _t("csat_top2"),
            _t("csat_responses"),
            _P,
            description="Responses of 4 or 5 on a 1–5 survey / responses",
        ),
        KpiFormula(
            "csat_avg",
            gettext_noop("Average CSAT"),
            "score",
            UP,
            Decimal(5),
            _t("csat_sum"),
            _t("csat_responses"),
        ),
        KpiFormula(
            "nps",
            gettext_noop("Net promoter score"),
            "score",
            UP,
            Decimal(5),
            (("nps_promoters", 1), ("nps_detractors", -1)),
            _t("nps_responses"),
            _P,
            description="% promoters (9–10) − % detractors (0–6)",
        ),
        KpiFormula(
            "ces",
            gettext_noop("Customer effort score"),
            "score",
            DOWN,
            Decimal(5),
            _t("ces_sum"),
            _t("ces_responses"),
        ),
        KpiFormula(
            "qa_score",
            gettext_noop("Quality score"),
            "score",
            UP,
            Decimal(1),
            _t("qa_score_centi"),
            _t("qa_evaluations"),
            num_divisor=100,
        ),
        KpiFormula(
            "adherence",
            gettext_noop("Schedule adherence"),
            "percent",
            UP,
            Decimal(3600),
            _t("adherent_ms"),
            _t("scheduled_ms"),
            _P,
            num_divisor=1000,
            den_divisor=1000,
            description="Adherent seconds / scheduled seconds; volume is scheduled seconds",
        ),
        KpiFormula(
            "save_rate",
            gettext_noop("Retention save rate"),
            "percent",
            UP,
            Decimal(5),
            _t("saves"),
            _t("save_attempts"),
            _P,
        ),
        KpiFormula(
            "turnover",
            gettext_noop("Agent turnover"),
            "percent",
            DOWN,
            Decimal(1),
            (),
            (),
            _P,
            scopes=("team",),
            description="Agents deactivated in the period / average active agents "
            "((active at start + active at end) / 2); teams and tenant only",
        ),
    )
}


def display_name(code: str, name: str) -> str:
    """A KPI's name in the active language: a built-in one translated, a tenant's own KPI (or
    a renamed one) as the tenant wrote it."""
    builtin = BUILTIN.get(code)
    return gettext(name) if builtin is not None and builtin.name == name else name


TWO_PLACES = Decimal("0.01")


def exact(value: Decimal) -> int | float:
    """A sum for JSON: an int when whole, else a float (sums have at most 3 decimals)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


@dataclass(frozen=True)
class KpiValue:
    value: float | None
    numerator: int | float
    denominator: int | float
    volume: int | float
    qualified: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "volume": self.volume,
            "qualified": self.qualified,
        }


def kpi_value(
    *,
    numerator: Decimal,
    denominator: Decimal,
    factor: Decimal,
    aggregation: str,
    min_volume: Decimal,
) -> KpiValue:
    """Value, rounded to 2 decimals, from sums already in natural units (null when den = 0)."""
    if denominator == 0:
        value = None
    elif aggregation == "sum":
        value = float(numerator.quantize(TWO_PLACES, ROUND_HALF_UP))
    else:
        value = float((factor * numerator / denominator).quantize(TWO_PLACES, ROUND_HALF_UP))
    return KpiValue(
        value=value,
        numerator=exact(numerator),
        denominator=exact(denominator),
        volume=exact(denominator),
        qualified=denominator > 0 and denominator >= min_volume,
    )


def builtin_value(formula: KpiFormula, sums: Sequence[int], min_volume: Decimal) -> KpiValue:
    numerator = Decimal(formula.numerator_of(sums)) / formula.num_divisor
    denominator = Decimal(formula.denominator_of(sums)) / formula.den_divisor
    return kpi_value(
        numerator=numerator,
        denominator=denominator,
        factor=formula.factor,
        aggregation=formula.aggregation,
        min_volume=min_volume,
    )


@dataclass
class CounterSum:
    """A running sum of counter vectors."""

    values: list[int] = field(default_factory=lambda: [0] * N_COUNTERS)

    def add(self, other: Sequence[int], sign: int = 1) -> None:
        values = self.values
        for i, v in enumerate(other):
            if v:
                values[i] += sign * v
