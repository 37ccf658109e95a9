"""Contest validation: every field of a contest checked, with the offending field named, for
the API, the admin and a recurring contest's next instance alike."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from accounts.models import Agent, Team, Tenant
from core.errors import InvalidInputError
from core.times import time_range_error
from gamify.contests.models import Contest
from gamify.game.models import Badge
from gamify.game.services import MAX_RANK, checked_decimal
from kpis.catalogue import kpi_catalogue
from kpis.periods import hour_start

FIELDS = (
    "name",
    "kind",
    "entity",
    "metric",
    "starts_at",
    "ends_at",
    "participants",
    "min_volume",
    "target",
    "guardrails",
    "prizes",
    "recurrence",
)
MAX_PRIZE = 1_000_000


def contest_validate(*, tenant: Tenant, values: Mapping[str, Any]) -> dict[str, Any]:
    """Check a whole contest; errors name the field (participants.teams.0, prizes.1.coins …)."""
    clean = {k: values.get(k) for k in FIELDS}
    if not str(clean["name"] or "").strip():
        raise InvalidInputError({"name": "Must not be empty."})
    if clean["kind"] not in Contest.Kind.values:
        raise InvalidInputError({"kind": "Must be ranked or target."})
    if clean["entity"] not in Contest.Entity.values:
        raise InvalidInputError({"entity": "Must be agent or team."})
    catalogue = kpi_catalogue(tenant)
    metric = clean["metric"]
    kpi = catalogue.get(metric) if isinstance(metric, str) else None
    if metric != "points" and kpi is None:
        raise InvalidInputError({"metric": "Use points or a KPI code."})
    if kpi is not None and kpi.formula is not None and clean["entity"] not in kpi.formula.scopes:
        raise InvalidInputError({"metric": f"{metric} is not measured per {clean['entity']}."})
    starts_at, ends_at = clean["starts_at"], clean["ends_at"]
    for name, instant in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not isinstance(instant, datetime) or instant.tzinfo is None:
            raise InvalidInputError({name: "A time with its UTC offset."})
    assert isinstance(starts_at, datetime)
    assert isinstance(ends_at, datetime)
    for name, instant in (("starts_at", starts_at), ("ends_at", ends_at)):
        if error := time_range_error(instant):  # the admin's forms come here too
            raise InvalidInputError({name: error})
    for name, instant in (("starts_at", starts_at), ("ends_at", ends_at)):
        if hour_start(instant, tenant.tz) != instant:
            raise InvalidInputError({name: "Must fall on a whole hour of the tenant's time."})
    if ends_at <= starts_at:
        raise InvalidInputError({"ends_at": "Must be after starts_at."})
    if ends_at - starts_at > timedelta(days=366):
        raise InvalidInputError({"ends_at": "A contest lasts at most a year."})
    if metric == "points":
        for name, instant in (("starts_at", starts_at), ("ends_at", ends_at)):
            if instant.astimezone(tenant.tz).hour != 0:
                raise InvalidInputError(
                    {
                        name: "Points are counted per day: a points contest runs midnight to "
                        "midnight (tenant's time). Use a KPI for shorter windows."
                    }
                )
    clean["participants"] = _participants(tenant, clean["participants"], clean["entity"])
    clean["min_volume"] = checked_decimal(clean["min_volume"], "min_volume", minimum=Decimal(0))
    clean["target"] = checked_decimal(clean["target"], "target")
    if clean["kind"] == Contest.Kind.TARGET and clean["target"] is None:
        raise InvalidInputError({"target": "A target contest needs a target."})
    clean["guardrails"] = _guardrails(catalogue, clean["guardrails"], clean["entity"])
    clean["prizes"] = _prizes(tenant, clean["prizes"])
    if clean["recurrence"] not in (None, *Contest.Recurrence.values):
        raise InvalidInputError({"recurrence": "null, daily, weekly or monthly."})
    clean["name"] = str(clean["name"]).strip()
    return clean


def _participants(tenant: Tenant, value: Any, entity: str) -> dict[str, list[str]]:
    if value in (None, {}):
        return {"teams": [], "agents": []}
    if not isinstance(value, Mapping):
        raise InvalidInputError({"participants": 'An object {"teams": [...], "agents": [...]}.'})
    unknown = sorted(set(value) - {"teams", "agents"})
    if unknown:
        raise InvalidInputError({f"participants.{unknown[0]}": "Unknown field."})
    out: dict[str, list[str]] = {}
    for name, model in (("teams", Team), ("agents", Agent)):
        ids = value.get(name) or []
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise InvalidInputError({f"participants.{name}": "A list of external ids."})
        known = set(
            model.objects.for_tenant(tenant)
            .filter(external_id__in=ids)
            .values_list("external_id", flat=True)
        )
        for index, external_id in enumerate(ids):
            if external_id not in known:
                raise InvalidInputError(
                    {f"participants.{name}.{index}": f"No {name[:-1]} {external_id!r}."}
                )
        out[name] = list(dict.fromkeys(ids))
    if entity == "team" and out["agents"]:
        raise InvalidInputError({"participants.agents": "A team contest lists teams only."})
    return out


def _guardrails(catalogue: Mapping[str, Any], value: Any, entity: str) -> list[dict[str, Any]]:
    if value in (None, []):
        return []
    if not isinstance(value, list):
        raise InvalidInputError({"guardrails": 'A list of {"kpi", "op", "value"}.'})
    out = []
    for index, rail in enumerate(value):
        where = f"guardrails.{index}"
        if not isinstance(rail, Mapping):
            raise InvalidInputError({where: 'An object {"kpi", "op", "value"}.'})
        unknown = sorted(set(rail) - {"kpi", "op", "value"})
        if unknown:
            raise InvalidInputError({f"{where}.{unknown[0]}": "Unknown field."})
        code = rail.get("kpi")
        kpi = catalogue.get(code) if isinstance(code, str) else None
        if kpi is None or kpi.formula is None or entity not in kpi.formula.scopes:
            raise InvalidInputError({f"{where}.kpi": "A built-in KPI measured for the entity."})
        if rail.get("op") not in (">=", "<="):
            raise InvalidInputError({f"{where}.op": "Must be >= or <=."})
        number = checked_decimal(rail.get("value"), f"{where}.value")
        if number is None:
            raise InvalidInputError({f"{where}.value": "This field is required."})
        out.append({"kpi": kpi.code, "op": rail["op"], "value": float(number)})
    return out


def _prizes(tenant: Tenant, value: Any) -> list[dict[str, Any]]:
    if value in (None, []):
        return []
    if not isinstance(value, list):
        raise InvalidInputError({"prizes": "A list of prizes."})
    badges = set(Badge.objects.for_tenant(tenant).values_list("code", flat=True))
    out = []
    for index, prize in enumerate(value):
        where = f"prizes.{index}"
        if not isinstance(prize, Mapping):
            raise InvalidInputError({where: "An object."})
        unknown = sorted(set(prize) - {"rank_from", "rank_to", "coins", "badge"})
        if unknown:
            raise InvalidInputError({f"{where}.{unknown[0]}": "Unknown field."})
        first, last = prize.get("rank_from", 1), prize.get("rank_to", prize.get("rank_from", 1))
        coins = prize.get("coins", 0)
        for name, number, low, high in (
            ("rank_from", first, 1, MAX_RANK),
            ("rank_to", last, 1, MAX_RANK),
            ("coins", coins, 0, MAX_PRIZE),
        ):
            if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
                raise InvalidInputError(
                    {f"{where}.{name}": f"A whole number from {low} to {high}."}
                )
        if last < first:
            raise InvalidInputError({f"{where}.rank_to": "Must be at least rank_from."})
        badge = prize.get("badge")
        if badge is not None and badge not in badges:
            raise InvalidInputError({f"{where}.badge": f"No badge {badge!r}."})
        out.append({"rank_from": first, "rank_to": last, "coins": coins, "badge": badge})
    return out
