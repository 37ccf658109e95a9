"""Writes of coaching configuration: goals, alert rules, scorecard settings.

Validation lives here (raising `InvalidInputError` naming the field), so the admin forms and
the API refuse exactly the same things, and every change is recorded in the audit log here, in
its transaction, whichever of them made it. A goal's change reaches its evaluation by kpis'
outbox (`changes_announce`), the path events take: under the apply lock, never lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from accounts.audit.services import audit_record, snapshot
from accounts.models import Agent, Team, Tenant
from core.errors import InvalidInputError
from core.times import day_range_error
from gamify.coaching.models import (
    ALERT_PERIODS,
    GOAL_PERIODS,
    AlertRule,
    CoachingSettings,
    Goal,
)
from kpis.catalogue import CatalogueKpi, kpi_catalogue
from kpis.ingest import changes_announce
from kpis.periods import local_today

GOAL_FIELDS = (
    "name",
    "kpi",
    "op",
    "target",
    "period",
    "start",
    "deadline",
    "agent",
    "team",
    "min_volume",
    "active",
)
RULE_FIELDS = (
    "name",
    "kind",
    "basis",
    "kpi",
    "percent",
    "periods",
    "period",
    "min_volume",
    "cooldown_minutes",
    "active",
)
MAX_DECIMAL = Decimal(10) ** 13
MAX_PERCENT = Decimal(1000)
MAX_ALERT_PERIODS = 52  # a year of weeks in a row
MAX_COOLDOWN_MINUTES = 366 * 24 * 60
MAX_SCORECARD_KPIS = 40
SETTINGS_FIELDS = ("scorecard_kpis", "close_band_percent", "move_counts_as_leaving")


def number(
    value: Any, field: str, *, minimum: Decimal | None = None, maximum: Decimal = MAX_DECIMAL
) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise InvalidInputError({field: "Must be a number."})
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInputError({field: "Must be a number."}) from exc
    if not result.is_finite() or abs(result) >= MAX_DECIMAL or result >= maximum:
        raise InvalidInputError({field: f"Must be a number less than {maximum}."})
    if minimum is not None and result < minimum:
        raise InvalidInputError({field: f"Must be at least {minimum}."})
    return result


def whole(value: Any, field: str, *, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidInputError({field: f"Must be a whole number from {minimum} to {maximum}."})
    return value


def known_kpi(tenant: Tenant, code: Any, field: str, *, subject: str) -> CatalogueKpi:
    kpi = kpi_catalogue(tenant).get(code) if isinstance(code, str) else None
    if kpi is None:
        raise InvalidInputError({field: f"Unknown KPI {code!r}."})
    if kpi.formula is not None and subject not in kpi.formula.scopes:
        raise InvalidInputError({field: f"{code} is measured for teams only."})
    return kpi


# --- goals ----------------------------------------------------------------------------------
def goal_validate(
    *, tenant: Tenant, values: Mapping[str, Any], previous: Goal | None = None
) -> dict[str, Any]:
    """Check a complete goal; returns the cleaned values. `agent`/`team` are the tenant's rows
    (both None: the tenant). A deadline may not be in the past, unless it is unchanged."""
    clean = {k: values.get(k) for k in GOAL_FIELDS}
    agent, team = clean["agent"], clean["team"]
    if agent is not None and team is not None:
        raise InvalidInputError({"scope": "A goal is for one agent, one team or the tenant."})
    for row, name in ((agent, "agent"), (team, "team")):
        if row is not None and (not isinstance(row, Agent | Team) or row.tenant_id != tenant.pk):
            raise InvalidInputError({"scope": f"No such {name}."})
    kpi = known_kpi(tenant, clean["kpi"], "kpi", subject="agent" if agent else "team")
    op = clean["op"] or (">=" if kpi.higher_is_better else "<=")
    if op not in (">=", "<="):
        raise InvalidInputError({"op": "Must be >= or <=."})
    clean["op"] = op
    if clean["target"] is None:
        raise InvalidInputError({"target": "Required."})
    clean["target"] = number(clean["target"], "target")
    if clean["min_volume"] is not None:
        clean["min_volume"] = number(clean["min_volume"], "min_volume", minimum=Decimal(0))
    period, deadline = clean["period"] or "", clean["deadline"]
    if bool(period) == (deadline is not None):
        raise InvalidInputError({"period": "Give either a period (recurring) or a deadline."})
    today = local_today(tenant)
    if period:
        if period not in GOAL_PERIODS:
            raise InvalidInputError({"period": f"Must be one of {', '.join(GOAL_PERIODS)}."})
        clean["start"] = clean["start"] or today
    else:
        assert deadline is not None  # checked above: a deadline goal has one
        for name in ("start", "deadline"):
            day = clean[name]
            if day is not None and not isinstance(day, date):
                raise InvalidInputError({name: "Must be a date, YYYY-MM-DD."})
            if day is not None and (error := day_range_error(day)):
                raise InvalidInputError({name: error})
        changed = previous is None or previous.deadline != deadline
        if changed and deadline < today:
            raise InvalidInputError({"deadline": "Must not be in the past."})
        clean["start"] = clean["start"] or (previous.start if previous else today)
        if deadline < clean["start"]:
            raise InvalidInputError({"deadline": "Must not be before start."})
    clean["period"] = period
    name = str(clean["name"] or "").strip()
    clean["name"] = name
    if len(name) > 200:
        raise InvalidInputError({"name": "At most 200 characters."})
    clean["active"] = True if clean["active"] is None else bool(clean["active"])
    return clean


def _evaluate_later(tenant: Tenant, goal: Goal) -> None:
    """Goals are judged after the buckets' hook: announce a change with no events."""
    days = {goal.agent_id: {local_today(tenant)}} if goal.agent_id else {}
    changes_announce(tenant=tenant, agent_days=days)


def _goal_snapshot(goal: Goal | Mapping[str, Any]) -> dict[str, Any]:
    """A goal's fields as the API names them: its agent or team by external id."""
    fields = [f for f in GOAL_FIELDS if f not in ("agent", "team")]
    found = snapshot(goal, fields)
    for name in ("agent", "team"):
        row = goal.get(name) if isinstance(goal, Mapping) else getattr(goal, name)
        found[name] = row.external_id if row is not None else None
    return found


def _goal_audit(goal: Goal, action: str, **changes: Any) -> None:
    audit_record(
        tenant=goal.tenant_id,
        action=action,
        object_type="goal",
        object_id=goal.pk,
        object_repr=goal.name or f"{goal.kpi} {goal.op} {goal.target}",
        **changes,
    )


def goal_create(*, tenant: Tenant, values: Mapping[str, Any]) -> Goal:
    clean = goal_validate(tenant=tenant, values=values)
    with transaction.atomic():
        goal = Goal.objects.create(tenant=tenant, **clean)
        _goal_audit(goal, "create", after=_goal_snapshot(goal))
        _evaluate_later(tenant, goal)
    return goal


def goal_update(*, goal: Goal, changes: Mapping[str, Any]) -> Goal:
    current = {name: getattr(goal, name) for name in GOAL_FIELDS}
    clean = goal_validate(tenant=goal.tenant, values={**current, **changes}, previous=goal)
    with transaction.atomic():
        # The stored row is the "before": a caller may hand in an instance already changed.
        stored = Goal.objects.filter(tenant_id=goal.tenant_id, pk=goal.pk).first()
        before = _goal_snapshot(stored if stored is not None else current)
        for name, value in clean.items():
            setattr(goal, name, value)
        goal.save()
        _goal_audit(goal, "update", before=before, after=_goal_snapshot(goal))
        _evaluate_later(goal.tenant, goal)
    return goal


def goal_delete(*, goal: Goal) -> None:
    """Its achievements go with it; the `goal.achieved` activity already written stays."""
    with transaction.atomic():
        _goal_audit(goal, "delete", before=_goal_snapshot(goal))
        goal.delete()


# --- alert rules ----------------------------------------------------------------------------
def alert_rule_validate(*, tenant: Tenant, values: Mapping[str, Any]) -> dict[str, Any]:
    clean = {k: values.get(k) for k in RULE_FIELDS}
    if clean["kind"] not in AlertRule.Kind.values:
        raise InvalidInputError({"kind": "Must be exceeds or behind."})
    basis = clean["basis"] or AlertRule.Basis.TEAM_AVERAGE
    if basis not in AlertRule.Basis.values:
        raise InvalidInputError({"basis": "Must be team_average or goal."})
    clean["basis"] = basis
    if clean["kpi"] or basis == AlertRule.Basis.TEAM_AVERAGE:
        known_kpi(tenant, clean["kpi"], "kpi", subject="agent")
    clean["kpi"] = clean["kpi"] or ""
    clean["percent"] = number(
        10 if clean["percent"] is None else clean["percent"],
        "percent",
        minimum=Decimal(0),
        maximum=MAX_PERCENT,
    )
    clean["periods"] = whole(
        1 if clean["periods"] is None else clean["periods"],
        "periods",
        minimum=1,
        maximum=MAX_ALERT_PERIODS,
    )
    clean["period"] = clean["period"] or "day"
    if clean["period"] not in ALERT_PERIODS:
        raise InvalidInputError({"period": f"Must be one of {', '.join(ALERT_PERIODS)}."})
    if clean["min_volume"] is not None:
        clean["min_volume"] = number(clean["min_volume"], "min_volume", minimum=Decimal(0))
    clean["cooldown_minutes"] = whole(
        240 if clean["cooldown_minutes"] is None else clean["cooldown_minutes"],
        "cooldown_minutes",
        minimum=0,
        maximum=MAX_COOLDOWN_MINUTES,
    )
    clean["name"] = str(clean["name"] or "").strip()
    if not clean["name"] or len(clean["name"]) > 200:
        raise InvalidInputError({"name": "A name of 1 to 200 characters."})
    clean["active"] = True if clean["active"] is None else bool(clean["active"])
    return clean


def _rule_audit(rule: AlertRule, action: str, **changes: Any) -> None:
    audit_record(
        tenant=rule.tenant_id,
        action=action,
        object_type="alert_rule",
        object_id=rule.pk,
        object_repr=rule.name,
        **changes,
    )


def alert_rule_create(*, tenant: Tenant, values: Mapping[str, Any]) -> AlertRule:
    clean = alert_rule_validate(tenant=tenant, values=values)
    with transaction.atomic():
        rule = AlertRule.objects.create(tenant=tenant, **clean)
        _rule_audit(rule, "create", after=snapshot(rule, RULE_FIELDS))
    return rule


def alert_rule_update(*, rule: AlertRule, changes: Mapping[str, Any]) -> AlertRule:
    current = {name: getattr(rule, name) for name in RULE_FIELDS}
    clean = alert_rule_validate(tenant=rule.tenant, values={**current, **changes})
    with transaction.atomic():
        stored = AlertRule.objects.filter(tenant_id=rule.tenant_id, pk=rule.pk).first()
        before = snapshot(stored if stored is not None else current, RULE_FIELDS)
        for name, value in clean.items():
            setattr(rule, name, value)
        rule.save()
        _rule_audit(rule, "update", before=before, after=snapshot(rule, RULE_FIELDS))
    return rule


def alert_rule_delete(*, rule: AlertRule) -> None:
    with transaction.atomic():
        _rule_audit(rule, "delete", before=snapshot(rule, RULE_FIELDS))
        rule.delete()


# --- scorecard settings ---------------------------------------------------------------------
def coaching_settings_validate(*, tenant: Tenant, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check changes to the scorecard settings; returns the cleaned changes."""
    clean: dict[str, Any] = {}
    if "scorecard_kpis" in changes:
        codes = changes["scorecard_kpis"]
        if not isinstance(codes, list) or len(codes) > MAX_SCORECARD_KPIS:
            raise InvalidInputError(
                {"scorecard_kpis": f"A list of at most {MAX_SCORECARD_KPIS} KPI codes."}
            )
        catalogue = kpi_catalogue(tenant)
        for code in codes:
            if not isinstance(code, str) or code not in catalogue:
                raise InvalidInputError({"scorecard_kpis": f"Unknown KPI {code!r}."})
        if len(set(codes)) != len(codes):
            raise InvalidInputError({"scorecard_kpis": "Each KPI at most once."})
        clean["scorecard_kpis"] = list(codes)
    if "close_band_percent" in changes:
        clean["close_band_percent"] = number(
            changes["close_band_percent"],
            "close_band_percent",
            minimum=Decimal(0),
            maximum=Decimal(100),
        )
    if "move_counts_as_leaving" in changes:
        flag = changes["move_counts_as_leaving"]
        if not isinstance(flag, bool):
            raise InvalidInputError({"move_counts_as_leaving": "Must be true or false."})
        clean["move_counts_as_leaving"] = flag
    return clean


def coaching_settings_update(*, tenant: Tenant, changes: Mapping[str, Any]) -> CoachingSettings:
    clean = coaching_settings_validate(tenant=tenant, changes=changes)
    with transaction.atomic():
        row, _ = CoachingSettings.objects.get_or_create(tenant=tenant)
        before = snapshot(row, SETTINGS_FIELDS)
        for name, value in clean.items():
            setattr(row, name, value)
        row.save()
        audit_record(
            tenant=tenant,
            action="update",
            object_type="coaching_settings",
            object_id=tenant.slug,
            object_repr="coaching settings",
            before=before,
            after=snapshot(row, SETTINGS_FIELDS),
        )
    return row
