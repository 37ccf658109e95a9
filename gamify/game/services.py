"""Writes of the game configuration and ledgers: the one path for the API and the admin.

Validation lives here (raising `InvalidInputError` naming the field), so the admin forms and
the API refuse exactly the same things.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit.services import audit_record, snapshot
from accounts.models import Agent, Tenant
from core.errors import ConflictError, InvalidInputError
from core.ids import MAX_ID
from core.locks import REQUEST_LOCK_WAIT_SECONDS
from gamify.activity.services import activity_record
from gamify.game.engine import (
    PERIODS,
    Context,
    _levels,
    _lifetime,
    _write_day_points,
    badges_award,
    game_recompute,
    points_milestones,
)
from gamify.game.models import (
    AgentDayPoints,
    Badge,
    GameSettings,
    Level,
    PointAdjustment,
    PointAward,
    PointRule,
)
from kpis import buckets
from kpis.catalogue import CatalogueKpi, kpi_catalogue
from kpis.ingest import changes_announce
from kpis.services.catalogue import CODE_PATTERN

RULE_FIELDS = (
    "name",
    "kpi",
    "kind",
    "points",
    "period",
    "op",
    "threshold",
    "lower",
    "upper",
    "min_volume",
    "cap",
    "active",
)
MAX_POINTS = 1_000_000
# Domain maxima of the other integers of the game's configuration: far beyond any real use,
# and inside the 32-bit columns (lifetime points, level thresholds) that hold what they
# produce, so a typo is a 400 naming the field instead of a 500 or a job that never ends.
MAX_TOTAL_POINTS = 1_000_000_000  # a rule's cap per period, a level's or a milestone's points
MAX_LEVELS = 100
MAX_COUNT = 1_000_000_000  # a count badge's numerator
# Judging a streak reads `length` periods back (twice that for a repeatable one): a year of
# days, or seven years of weeks, is the longest run worth a badge.
MAX_STREAK_LENGTH = 366
MAX_RANK = 100_000  # a contest place (badge criteria, prize ranges)
# Late events count this long after a period ends: a week is generous, and the beat jobs
# subtract it from now (a grace of 2^31 minutes reaches before year 1).
MAX_GRACE_MINUTES = 7 * 24 * 60
# Decimal settings (thresholds, volumes, targets): |x| < 10^13, inside their numeric columns.
MAX_DECIMAL = Decimal(10) ** 13


class Conflict(ConflictError):
    slug = "conflict"
    title = "Conflict"


def checked_decimal(value: Any, field: str, *, minimum: Decimal | None = None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise InvalidInputError({field: "Must be a number."})
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInputError({field: "Must be a number."}) from exc
    if not number.is_finite() or abs(number) >= MAX_DECIMAL:
        raise InvalidInputError({field: "Must be a number between -10^13 and 10^13."})
    if minimum is not None and number < minimum:
        raise InvalidInputError({field: f"Must be at least {minimum}."})
    return number


def _agent_kpi(catalogue: Mapping[str, CatalogueKpi], code: Any, field: str) -> CatalogueKpi:
    kpi = catalogue.get(code) if isinstance(code, str) else None
    if kpi is None:
        raise InvalidInputError({field: f"Unknown KPI {code!r}."})
    if kpi.formula is not None and "agent" not in kpi.formula.scopes:
        raise InvalidInputError({field: f"{code} is measured for teams only."})
    return kpi


def point_rule_validate(*, tenant: Tenant, values: Mapping[str, Any]) -> dict[str, Any]:
    """Check a complete rule; returns the cleaned values. Errors name the field."""
    clean = dict(values)
    kpi = _agent_kpi(kpi_catalogue(tenant), clean.get("kpi"), "kpi")
    kind = clean.get("kind")
    if kind not in PointRule.Kind.values:
        raise InvalidInputError({"kind": "Must be per_unit, target or scaled."})
    if clean.get("period", "day") not in PERIODS:
        raise InvalidInputError({"period": "Must be day, week or month."})
    points = clean.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= MAX_POINTS:
        raise InvalidInputError({"points": f"Must be a whole number from 0 to {MAX_POINTS}."})
    cap = clean.get("cap")
    if cap is not None and (
        isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= MAX_TOTAL_POINTS
    ):
        raise InvalidInputError({"cap": f"Must be a whole number from 0 to {MAX_TOTAL_POINTS}."})
    clean["min_volume"] = checked_decimal(
        clean.get("min_volume") or 0, "min_volume", minimum=Decimal(0)
    )
    for name in ("threshold", "lower", "upper"):
        clean[name] = checked_decimal(clean.get(name), name)
    op = clean.get("op") or ""
    if kind == PointRule.Kind.TARGET:
        if clean["threshold"] is None:
            raise InvalidInputError({"threshold": "A target rule needs a threshold."})
        if op == "":
            op = ">=" if kpi.higher_is_better else "<="
        if op not in (">=", "<="):
            raise InvalidInputError({"op": "Must be >= or <=."})
    elif kind == PointRule.Kind.SCALED:
        if clean["lower"] is None or clean["upper"] is None:
            missing = "lower" if clean["lower"] is None else "upper"
            raise InvalidInputError({missing: "A scaled rule needs lower and upper."})
        if clean["lower"] == clean["upper"]:
            raise InvalidInputError({"upper": "Must differ from lower."})
        better = clean["upper"] > clean["lower"]
        if better != kpi.higher_is_better:
            raise InvalidInputError(
                {
                    "upper": f"{kpi.code} is {kpi.direction.replace('_', ' ')}: upper is the "
                    "value worth all the points, so it must be on the better side."
                }
            )
    if op not in ("", ">=", "<="):
        raise InvalidInputError({"op": "Must be >= or <=."})
    clean["op"] = op
    if not str(clean.get("name") or "").strip():
        raise InvalidInputError({"name": "Must not be empty."})
    return clean


def _recompute_later(tenant: Tenant) -> None:
    """Rules or badges changed: every open period is recomputed, and live boards and running
    contests follow, by the path events take (kpis' outbox: never lost, under the apply lock).
    """
    changes_announce(tenant=tenant, everything=True)


def point_rule_create(*, tenant: Tenant, values: Mapping[str, Any]) -> PointRule:
    clean = point_rule_validate(tenant=tenant, values=values)
    with transaction.atomic():
        rule = PointRule.objects.create(
            tenant=tenant, **{k: clean[k] for k in RULE_FIELDS if k in clean}
        )
        audit_record(
            tenant=tenant,
            action="create",
            object_type="point_rule",
            object_id=rule.pk,
            object_repr=rule.name,
            after=snapshot(rule, RULE_FIELDS),
        )
        _recompute_later(tenant)
    return rule


def point_rule_update(*, rule: PointRule, changes: Mapping[str, Any]) -> PointRule:
    current = {name: getattr(rule, name) for name in RULE_FIELDS}
    clean = point_rule_validate(tenant=rule.tenant, values={**current, **changes})
    with transaction.atomic():
        # The stored row is the "before": the admin hands in an instance its form already
        # changed, so `current` may hold the new values.
        stored = PointRule.objects.filter(tenant_id=rule.tenant_id, pk=rule.pk).first()
        for name in RULE_FIELDS:
            setattr(rule, name, clean[name])
        rule.save()
        audit_record(
            tenant=rule.tenant_id,
            action="update",
            object_type="point_rule",
            object_id=rule.pk,
            object_repr=rule.name,
            before=snapshot(stored if stored is not None else current, RULE_FIELDS),
            after=snapshot(rule, RULE_FIELDS),
        )
        _recompute_later(rule.tenant)
    return rule


def point_rule_delete(*, rule: PointRule) -> None:
    """Retire a rule: its open-period points go, its finalized awards stay (they are history)."""
    with transaction.atomic():
        before = snapshot(rule, RULE_FIELDS)
        rule.active, rule.deleted = False, True
        rule.save(update_fields=["active", "deleted", "updated_at"])
        audit_record(
            tenant=rule.tenant_id,
            action="delete",
            object_type="point_rule",
            object_id=rule.pk,
            object_repr=rule.name,
            before=before,
        )
        _recompute_later(rule.tenant)


def points_adjust(
    *, tenant: Tenant, agent: Agent, points: int, reason: str, actor: str
) -> PointAdjustment:
    """A manual adjustment: counted today (tenant's timezone), in every total, for good."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise InvalidInputError({"points": "Must be a non-zero whole number."})
    if abs(points) > MAX_POINTS:
        raise InvalidInputError({"points": f"At most {MAX_POINTS} either way."})
    if not reason.strip():
        raise InvalidInputError({"reason": "Say why."})
    day = timezone.now().astimezone(tenant.tz).date()
    with transaction.atomic():
        buckets.advisory_lock(buckets.APPLY_LOCK, tenant.pk, wait_seconds=REQUEST_LOCK_WAIT_SECONDS)
        adjustment = PointAdjustment.objects.create(
            tenant=tenant, agent=agent, points=points, reason=reason.strip(), day=day, actor=actor
        )
        audit_record(
            tenant=tenant,
            action="adjust",
            object_type="agent_points",
            object_id=agent.external_id,
            object_repr=agent.display_name or agent.external_id,
            after={"points": points, "reason": adjustment.reason, "day": day},
            actor=actor,
        )
        ctx = Context.load(tenant)
        _write_day_points(ctx, {(agent.pk, day)})
        lifetime = _lifetime(ctx, {agent.pk})
        _levels(ctx, lifetime)
        badges_award(tenant=tenant, earned=points_milestones(ctx, lifetime))
        # The totals above are right at once; live boards and contests follow by the outbox.
        changes_announce(tenant=tenant, agent_days={agent.pk: {day}})
        activity_record(
            tenant=tenant,
            type="points.adjusted",
            key=f"adjustment:{adjustment.pk}",
            agent_id=agent.pk,
            data={"points": points, "reason": adjustment.reason, "actor": actor},
        )
    return adjustment


def levels_replace(*, tenant: Tenant, levels: Sequence[Mapping[str, Any]]) -> list[Level]:
    """Replace the whole level table. Numbers 1, 2, 3 …; min_points start at 0 and strictly
    increase. Agents' levels are recomputed; nobody is told of a level-up twice."""
    cleaned = levels_validate(levels)
    with transaction.atomic():
        buckets.advisory_lock(buckets.APPLY_LOCK, tenant.pk, wait_seconds=REQUEST_LOCK_WAIT_SECONDS)
        before = level_rows(tenant)
        Level.objects.for_tenant(tenant).delete()
        rows = Level.objects.bulk_create(
            [Level(tenant=tenant, number=n, name=name, min_points=m) for n, name, m in cleaned]
        )
        audit_record(
            tenant=tenant,
            action="update",
            object_type="levels",
            object_id=tenant.slug,
            object_repr="level table",
            before={"levels": before},
            after={"levels": level_rows(tenant)},
        )
        ctx = Context.load(tenant)
        agents = set(Agent.objects.for_tenant(tenant).values_list("id", flat=True))
        _levels(ctx, _lifetime(ctx, agents))
    return rows


def level_rows(tenant: Tenant) -> list[dict[str, Any]]:
    """The level table as the audit log and the API show it."""
    return [
        {"number": n, "name": name, "min_points": m}
        for n, name, m in Level.objects.for_tenant(tenant)
        .order_by("number")
        .values_list("number", "name", "min_points")
    ]


def levels_validate(levels: Sequence[Mapping[str, Any]]) -> list[tuple[int, str, int]]:
    """A whole level table checked; errors name the level ("1.min_points")."""
    if not levels:
        raise InvalidInputError({"levels": "Give at least one level."})
    if len(levels) > MAX_LEVELS:
        raise InvalidInputError({"levels": f"At most {MAX_LEVELS} levels."})
    cleaned: list[tuple[int, str, int]] = []
    for index, level in enumerate(levels):
        where = f"{index}"
        if not isinstance(level, Mapping):
            raise InvalidInputError({where: "Each level is an object."})
        unknown = sorted(set(level) - {"number", "name", "min_points"})
        if unknown:
            raise InvalidInputError({f"{where}.{unknown[0]}": "Unknown field."})
        number, name, minimum = level.get("number"), level.get("name"), level.get("min_points")
        if isinstance(number, bool) or not isinstance(number, int) or number != index + 1:
            raise InvalidInputError(
                {f"{where}.number": f"Must be {index + 1}: 1, 2, 3 … in order."}
            )
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise InvalidInputError({f"{where}.name": "A name of 1 to 100 characters."})
        if (
            isinstance(minimum, bool)
            or not isinstance(minimum, int)
            or not 0 <= minimum <= MAX_TOTAL_POINTS
        ):
            raise InvalidInputError(
                {f"{where}.min_points": f"A whole number from 0 to {MAX_TOTAL_POINTS}."}
            )
        if index == 0 and minimum != 0:
            raise InvalidInputError({f"{where}.min_points": "The first level starts at 0."})
        if cleaned and minimum <= cleaned[-1][2]:
            raise InvalidInputError(
                {f"{where}.min_points": "Must be more than the previous level's min_points."}
            )
        cleaned.append((number, name.strip(), minimum))
    return cleaned


# --- badges ---------------------------------------------------------------------------------
CRITERIA_FIELDS: dict[str, dict[str, bool]] = {  # field → required
    "kpi_threshold": {
        "kpi": True,
        "op": False,
        "threshold": True,
        "period": True,
        "min_volume": False,
    },
    "count": {"kpi": True, "count": True, "period": False},
    "streak": {
        "kpi": True,
        "op": False,
        "threshold": True,
        "period": True,
        "length": True,
        "min_volume": False,
    },
    "points": {"points": True},
    "contest_place": {"contest": False, "rank": True},
}


# (field, lowest, highest) of the criteria's whole numbers.
CRITERIA_RANGES = (
    ("count", 1, MAX_COUNT),
    ("length", 2, MAX_STREAK_LENGTH),
    ("points", 1, MAX_TOTAL_POINTS),
    ("rank", 1, MAX_RANK),
)


def badge_criteria_validate(*, tenant: Tenant, criteria: Any) -> dict[str, Any]:
    if not isinstance(criteria, Mapping):
        raise InvalidInputError({"criteria": "Must be an object with a kind."})
    kind = criteria.get("kind")
    if kind not in CRITERIA_FIELDS:
        raise InvalidInputError({"criteria.kind": f"Must be one of {', '.join(CRITERIA_FIELDS)}."})
    fields = CRITERIA_FIELDS[kind]
    unknown = sorted(set(criteria) - set(fields) - {"kind"})
    if unknown:
        raise InvalidInputError({f"criteria.{unknown[0]}": f"Not a field of {kind} criteria."})
    for name, required in fields.items():
        if required and criteria.get(name) is None:
            raise InvalidInputError({f"criteria.{name}": "This field is required."})
    clean: dict[str, Any] = {"kind": kind}
    catalogue = kpi_catalogue(tenant)
    if "kpi" in fields:
        kpi = _agent_kpi(catalogue, criteria.get("kpi"), "criteria.kpi")
        clean["kpi"] = kpi.code
    if "op" in fields:
        op = criteria.get("op")
        if op is None:
            op = ">=" if kpi.higher_is_better else "<="
        if op not in (">=", "<="):
            raise InvalidInputError({"criteria.op": "Must be >= or <=."})
        clean["op"] = op
    if "threshold" in fields:
        clean["threshold"] = float(
            checked_decimal(criteria["threshold"], "criteria.threshold") or 0
        )
    if "min_volume" in fields:
        minimum = checked_decimal(
            criteria.get("min_volume", 0), "criteria.min_volume", minimum=Decimal(0)
        )
        clean["min_volume"] = float(minimum or 0)
    if "period" in fields:
        allowed = {
            "kpi_threshold": PERIODS,
            "streak": ("day", "week"),
            "count": (*PERIODS, "lifetime"),
        }[kind]
        period = criteria.get("period", "lifetime")
        if period not in allowed:
            raise InvalidInputError({"criteria.period": f"Must be one of {', '.join(allowed)}."})
        clean["period"] = period
    for name, low, high in CRITERIA_RANGES:
        if name in fields and criteria.get(name) is not None:
            value = criteria[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidInputError(
                    {f"criteria.{name}": f"A whole number from {low} to {high}."}
                )
            clean[name] = value
    if kind == "contest_place":
        contest = criteria.get("contest")
        if contest is not None and (
            isinstance(contest, bool) or not isinstance(contest, int) or not 1 <= contest <= MAX_ID
        ):
            raise InvalidInputError({"criteria.contest": "A contest id, or null for any contest."})
        clean["contest"] = contest
    return clean


BADGE_FIELDS = ("name", "description", "icon", "coins", "repeatable", "criteria", "active")


def badge_validate(*, tenant: Tenant, values: Mapping[str, Any]) -> dict[str, Any]:
    clean = {k: values[k] for k in BADGE_FIELDS if k in values}
    clean["criteria"] = badge_criteria_validate(tenant=tenant, criteria=values.get("criteria"))
    coins = clean.get("coins", 0)
    if isinstance(coins, bool) or not isinstance(coins, int) or not 0 <= coins <= MAX_POINTS:
        raise InvalidInputError({"coins": f"A whole number from 0 to {MAX_POINTS}."})
    icon = str(clean.get("icon") or "")
    if icon.startswith("http") and not icon.startswith("https://"):
        raise InvalidInputError({"icon": "An emoji, a short name, or an https:// URL."})
    if not str(clean.get("name") or "").strip():
        raise InvalidInputError({"name": "Must not be empty."})
    return clean


def badge_code_errors(code: Any) -> list[str]:
    if not isinstance(code, str) or not CODE_PATTERN.match(code.replace("-", "_")):
        return ["2–40 characters: lowercase letters, digits, - and _, starting with a letter."]
    return []


def badge_create(*, tenant: Tenant, code: str, values: Mapping[str, Any]) -> Badge:
    if errors := badge_code_errors(code):
        raise InvalidInputError({"code": errors})
    clean = badge_validate(tenant=tenant, values=values)
    with transaction.atomic():
        if Badge.objects.for_tenant(tenant).filter(code=code).exists():
            raise Conflict(f"A badge {code!r} exists.", errors={"code": ["Already exists."]})
        badge = Badge.objects.create(tenant=tenant, code=code, **clean)
        audit_record(
            tenant=tenant,
            action="create",
            object_type="badge",
            object_id=code,
            object_repr=badge.name,
            after=snapshot(badge, BADGE_FIELDS),
        )
        _recompute_later(tenant)  # a monotone badge may already be earned
    return badge


def badge_update(*, badge: Badge, changes: Mapping[str, Any]) -> Badge:
    current = {name: getattr(badge, name) for name in BADGE_FIELDS}
    clean = badge_validate(tenant=badge.tenant, values={**current, **changes})
    with transaction.atomic():
        stored = Badge.objects.filter(
            tenant_id=badge.tenant_id, pk=badge.pk
        ).first()  # admin's instance is changed
        for name, value in clean.items():
            setattr(badge, name, value)
        badge.save()
        audit_record(
            tenant=badge.tenant_id,
            action="update",
            object_type="badge",
            object_id=badge.code,
            object_repr=badge.name,
            before=snapshot(stored if stored is not None else current, BADGE_FIELDS),
            after=snapshot(badge, BADGE_FIELDS),
        )
        _recompute_later(badge.tenant)
    return badge


def game_settings_set(*, tenant: Tenant, grace_minutes: int) -> GameSettings:
    """The tenant's grace window for late events (minutes after a period ends)."""
    if isinstance(grace_minutes, bool) or not isinstance(grace_minutes, int):
        raise InvalidInputError({"grace_minutes": "Must be a whole number."})
    if not 0 <= grace_minutes <= MAX_GRACE_MINUTES:
        raise InvalidInputError({"grace_minutes": f"From 0 to {MAX_GRACE_MINUTES}."})
    with transaction.atomic():
        stored = GameSettings.objects.filter(tenant=tenant).first()
        row, created = GameSettings.objects.update_or_create(
            tenant=tenant, defaults={"grace_minutes": grace_minutes}
        )
        audit_record(
            tenant=tenant,
            action="create" if created else "update",
            object_type="game_settings",
            object_id=tenant.slug,
            object_repr=str(row),
            before=snapshot(stored, ["grace_minutes"]) if stored is not None else None,
            after=snapshot(row, ["grace_minutes"]),
        )
    return row


def game_settings_delete(*, tenant: Tenant) -> None:
    """Back to the default grace window."""
    with transaction.atomic():
        stored = GameSettings.objects.filter(tenant=tenant).first()
        if stored is None:
            return
        stored.delete()
        audit_record(
            tenant=tenant,
            action="delete",
            object_type="game_settings",
            object_id=tenant.slug,
            object_repr=str(stored),
            before=snapshot(stored, ["grace_minutes"]),
        )


def game_rebuild(*, tenant: Tenant) -> str:
    """Recompute the game from scratch: open-period awards, points per day, lifetime points
    and levels are dropped and derived again from the buckets. Finalized awards, badges,
    adjustments and the record of levels reached are ledgers: they stay."""
    with transaction.atomic():
        buckets.advisory_lock(buckets.APPLY_LOCK, tenant.pk)
        PointAward.objects.for_tenant(tenant).filter(finalized=False).delete()
        AgentDayPoints.objects.filter(tenant=tenant).delete()
        outcome = game_recompute(tenant=tenant, agent_days=None)
    return str(outcome)


def today(tenant: Tenant) -> date:
    return timezone.now().astimezone(tenant.tz).date()
