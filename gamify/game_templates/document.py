"""A tenant's game as one JSON document (`manage.py export_game` / `import_game`,
`GET /game/export`, `POST /game/import`, `create_tenant --template starter`).

The document is `{"format": "gamify.game/1", <section>: …}` with one entry per section of the
registry below, applied in its order (KPIs before the rules that name them, badges before the
contests whose prizes name them). Importing checks the whole document and writes it in one
transaction, or writes nothing: every item goes through the same service (and validation) as
the API, each in a savepoint, and every error is collected under its path inside the document
(`point_rules[2].kpi`, `contest_templates[0].prizes[1].coins`); any error rolls the whole
import back. Items are matched by their natural key — a KPI by code, a rule, reward or contest
template by name, a badge by code — and created or updated; the level table is replaced.
Nothing absent from the document is deleted.

A section is a name, an `export(tenant)` and an `apply(tenant, value, errors)`:
`register_section` adds one (say, the coaching engineer's alert rules) without touching the
others.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from accounts.models import Tenant
from core.errors import ApplicationError, InvalidInputError
from gamify.contests import services as contests
from gamify.contests.models import Contest
from gamify.game import services as game
from gamify.game.models import Badge, Level, PointRule
from gamify.wallet import services as wallet
from gamify.wallet.models import Reward
from kpis.catalogue import kpi_catalogue
from kpis.models import InteractionSettings, Kpi
from kpis.services.catalogue import kpi_create, kpi_update

FORMAT = "gamify.game/1"
BUNDLED = Path(__file__).resolve().parent / "bundled"


class GameDocumentInvalid(InvalidInputError):
    """400: the document's errors, each under its path inside the document."""


class Errors:
    """Errors keyed by their path in the document."""

    def __init__(self) -> None:
        self.by_path: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.by_path.setdefault(path, []).append(message)

    @contextmanager
    def item(self, path: str) -> Iterator[None]:
        """Apply one item in a savepoint: its failure is recorded under `path` and undone,
        and the import goes on to find the other errors."""
        try:
            with transaction.atomic():
                yield
        except ApplicationError as exc:
            if not exc.errors:
                self.add(path, str(exc.detail))
            for field, messages in exc.errors.items():
                for message in messages:
                    self.add(join(path, field), message)
        except DjangoValidationError as exc:
            for message in exc.messages:
                self.add(path, message)
        except (DataError, IntegrityError, ValueError, TypeError) as exc:
            # What the services leave to the API's serializers (a name's length, a NUL
            # character) the database refuses: the item's error, never a 500.
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.add(path, f"Not a valid item: {first[:200]}")


def join(path: str, field: str) -> str:
    """`point_rules[2]` + `participants.teams.0` → `point_rules[2].participants.teams[0]`."""
    out = path
    for part in field.split("."):
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


@dataclass(frozen=True)
class Section:
    name: str
    export: Callable[[Tenant], Any]
    apply: Callable[[Tenant, Any, Errors], int]  # returns how many items it applied
    kind: type = list  # the JSON type of the section's value


SECTIONS: list[Section] = []


def register_section(section: Section, *, after: str | None = None) -> None:
    """Add a section; `after` places it behind the one it depends on (default: last)."""
    if any(s.name == section.name for s in SECTIONS):
        raise ValueError(f"section {section.name!r} is registered already")
    names = [s.name for s in SECTIONS]
    SECTIONS.insert(names.index(after) + 1 if after else len(SECTIONS), section)


def number(value: Decimal | None) -> int | float | None:
    """A stored decimal as the JSON number it was written as (5, not 5.000)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _items(value: list[Any], name: str, errors: Errors) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, item in enumerate(value):
        path = f"{name}[{index}]"
        if not isinstance(item, dict):
            errors.add(path, "Must be an object.")
            continue
        yield path, item


def _unknown(path: str, item: Mapping[str, Any], known: set[str], errors: Errors) -> bool:
    extra = sorted(set(item) - known)
    for key in extra:
        errors.add(f"{path}.{key}", "Unknown field.")
    return bool(extra)


# --- kpis -----------------------------------------------------------------------------------
KPI_FIELDS = {"code", "custom", "name", "unit", "direction", "aggregation", "min_volume"}


def kpis_export(tenant: Tenant) -> list[dict[str, Any]]:
    """The tenant's custom KPIs and the built-in ones whose settings it changed."""
    catalogue = kpi_catalogue(tenant)
    rows = []
    for code in Kpi.objects.for_tenant(tenant).order_by("code").values_list("code", flat=True):
        kpi = catalogue[code]
        entry: dict[str, Any] = {"code": code, "custom": kpi.custom}
        if kpi.custom:
            entry.update(
                name=kpi.name, unit=kpi.unit, direction=kpi.direction, aggregation=kpi.aggregation
            )
        entry["min_volume"] = number(kpi.min_volume)
        rows.append(entry)
    return rows


def kpis_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    done = 0
    for path, item in _items(value, "kpis", errors):
        if _unknown(path, item, KPI_FIELDS, errors):
            continue
        with errors.item(path):
            code = item.get("code")
            if not isinstance(code, str):
                raise InvalidInputError({"code": "Give the KPI's code."})
            volume = _volume(item.get("min_volume"))
            exists = code in kpi_catalogue(tenant)
            if item.get("custom") and not exists:
                for field, choices in (
                    ("unit", Kpi.Unit.values),
                    ("direction", Kpi.Direction.values),
                    ("aggregation", Kpi.Aggregation.values),
                ):
                    if item.get(field) not in choices:
                        raise InvalidInputError({field: f"One of {', '.join(choices)}."})
                if not isinstance(item.get("name"), str) or not item["name"].strip():
                    raise InvalidInputError({"name": "Give the KPI's name."})
                kpi_create(
                    tenant=tenant,
                    code=code,
                    name=str(item.get("name") or code),
                    unit=str(item.get("unit")),
                    direction=str(item.get("direction")),
                    aggregation=str(item.get("aggregation")),
                    min_volume=volume if volume is not None else Decimal(0),
                )
            elif not exists:
                raise InvalidInputError({"code": f"Unknown KPI {code!r} (custom: true adds one)."})
            else:
                kpi_update(
                    tenant=tenant,
                    code=code,
                    min_volume=volume,
                    name=str(item["name"]) if item.get("custom") and "name" in item else None,
                )
            done += 1
    return done


def _volume(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError({"min_volume": "Must be a number."})
    return Decimal(str(value))


# --- interaction settings -------------------------------------------------------------------
SETTINGS_FIELDS = {"threshold_seconds", "short_abandon_seconds"}


def settings_export(tenant: Tenant) -> dict[str, Any]:
    row = InteractionSettings.objects.filter(tenant=tenant).first()
    if row is None:
        return {}
    return {
        "threshold_seconds": row.threshold_seconds,
        "short_abandon_seconds": row.short_abandon_seconds,
    }


def settings_apply(tenant: Tenant, value: dict[str, Any], errors: Errors) -> int:
    if not value or _unknown("interaction_settings", value, SETTINGS_FIELDS, errors):
        return 0
    with errors.item("interaction_settings"):
        # threshold_seconds belongs to service_level, short_abandon_seconds to both.
        kpi_update(
            tenant=tenant,
            code="service_level",
            threshold_seconds=value.get("threshold_seconds"),
            short_abandon_seconds=value.get("short_abandon_seconds"),
        )
    return 1


# --- point rules ----------------------------------------------------------------------------
DECIMAL_RULE_FIELDS = ("threshold", "lower", "upper", "min_volume")


def point_rules_export(tenant: Tenant) -> list[dict[str, Any]]:
    rules = PointRule.objects.for_tenant(tenant).filter(deleted=False).order_by("name", "id")
    return [
        {
            name: number(getattr(rule, name))
            if name in DECIMAL_RULE_FIELDS
            else getattr(rule, name)
            for name in game.RULE_FIELDS
        }
        for rule in rules
    ]


def point_rules_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    done = 0
    existing = {r.name: r for r in PointRule.objects.for_tenant(tenant).filter(deleted=False)}
    for path, item in _items(value, "point_rules", errors):
        if _unknown(path, item, set(game.RULE_FIELDS), errors):
            continue
        with errors.item(path):
            values = {k: item[k] for k in game.RULE_FIELDS if k in item}
            rule = existing.get(str(item.get("name")))
            if rule is not None:
                game.point_rule_update(rule=rule, changes=values)
            else:
                existing[str(item.get("name"))] = game.point_rule_create(
                    tenant=tenant, values=values
                )
            done += 1
    return done


# --- levels ---------------------------------------------------------------------------------
def levels_export(tenant: Tenant) -> list[dict[str, Any]]:
    return [
        {"number": level.number, "name": level.name, "min_points": level.min_points}
        for level in Level.objects.for_tenant(tenant).order_by("number")
    ]


def levels_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    if not value:
        return 0
    with errors.item("levels"):
        game.levels_replace(tenant=tenant, levels=value)
    return len(value)


# --- badges ---------------------------------------------------------------------------------
def badges_export(tenant: Tenant) -> list[dict[str, Any]]:
    return [
        {"code": badge.code, **{name: getattr(badge, name) for name in game.BADGE_FIELDS}}
        for badge in Badge.objects.for_tenant(tenant).order_by("code")
    ]


def badges_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    done = 0
    existing = {b.code: b for b in Badge.objects.for_tenant(tenant)}
    for path, item in _items(value, "badges", errors):
        if _unknown(path, item, {"code", *game.BADGE_FIELDS}, errors):
            continue
        with errors.item(path):
            values = {k: item[k] for k in game.BADGE_FIELDS if k in item}
            criteria = values.get("criteria")
            place_in = criteria.get("contest") if isinstance(criteria, dict) else None
            if place_in is not None and not (
                isinstance(place_in, int)
                and Contest.objects.for_tenant(tenant).filter(pk=place_in).exists()
            ):
                # Contest ids are the tenant's own: one from another tenant names nothing here.
                raise InvalidInputError(
                    {"criteria.contest": f"No contest {place_in} here; null means any contest."}
                )
            badge = existing.get(str(item.get("code")))
            if badge is not None:
                game.badge_update(badge=badge, changes=values)
            else:
                code = item.get("code")
                if not isinstance(code, str):
                    raise InvalidInputError({"code": "Give the badge's code."})
                game.badge_create(tenant=tenant, code=code, values=values)
            done += 1
    return done


# --- rewards --------------------------------------------------------------------------------
def rewards_export(tenant: Tenant) -> list[dict[str, Any]]:
    return [
        {name: getattr(reward, name) for name in wallet.REWARD_FIELDS}
        for reward in Reward.objects.for_tenant(tenant).order_by("name", "id")
    ]


def rewards_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    done = 0
    existing = {r.name: r for r in Reward.objects.for_tenant(tenant)}
    for path, item in _items(value, "rewards", errors):
        if _unknown(path, item, set(wallet.REWARD_FIELDS), errors):
            continue
        with errors.item(path):
            reward = existing.get(str(item.get("name")))
            if reward is not None:
                wallet.reward_update(reward=reward, changes=item)
            else:
                existing[str(item.get("name"))] = wallet.reward_create(tenant=tenant, values=item)
            done += 1
    return done


# --- contest templates ----------------------------------------------------------------------
# A contest template is a draft contest. Its window is written as the calendar period it spans
# ("day", "week" or "month", from a local midnight) or as whole "hours"; imported, it becomes a
# draft starting at the next such local midnight, to be scheduled by a manager.
CONTEST_FIELDS = (
    "name",
    "kind",
    "entity",
    "metric",
    "participants",
    "min_volume",
    "target",
    "guardrails",
    "prizes",
    "recurrence",
)
WINDOWS = {"day": timedelta(days=1), "week": timedelta(weeks=1)}


def _local_end(start: datetime, window: str, tenant: Tenant) -> datetime:
    local = start.astimezone(tenant.tz)
    if window == "month":
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        end_local = datetime.combine(local.date().replace(year=year, month=month), time())
    else:
        end_local = datetime.combine(local.date() + WINDOWS[window], time())
    return end_local.replace(tzinfo=tenant.tz).astimezone(start.tzinfo)


def _window(contest: Contest, tenant: Tenant) -> str | int:
    local = contest.starts_at.astimezone(tenant.tz)
    if local.time() == time():
        for window in ("day", "week", "month"):
            if window == "month" and local.day != 1:
                continue
            if _local_end(contest.starts_at, window, tenant) == contest.ends_at:
                return window
    return int((contest.ends_at - contest.starts_at).total_seconds() // 3600)


def contest_templates_export(tenant: Tenant) -> list[dict[str, Any]]:
    drafts = Contest.objects.for_tenant(tenant).filter(status=Contest.Status.DRAFT)
    rows = []
    for contest in drafts.order_by("name", "id"):
        entry = {
            name: number(getattr(contest, name))
            if name in ("min_volume", "target")
            else getattr(contest, name)
            for name in CONTEST_FIELDS
        }
        window = _window(contest, tenant)
        entry["window"] = window if isinstance(window, str) else {"hours": window}
        rows.append(entry)
    return rows


def _next_midnight(tenant: Tenant) -> datetime:
    local = timezone.now().astimezone(tenant.tz)
    return datetime.combine(local.date() + timedelta(days=1), time()).replace(tzinfo=tenant.tz)


def contest_templates_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    done = 0
    drafts = Contest.objects.for_tenant(tenant).filter(status=Contest.Status.DRAFT)
    existing = {c.name: c for c in drafts}
    for path, item in _items(value, "contest_templates", errors):
        if _unknown(path, item, {*CONTEST_FIELDS, "window"}, errors):
            continue
        with errors.item(path):
            window = item.get("window", "week")
            start = _next_midnight(tenant)
            if isinstance(window, str) and window in ("day", "week", "month"):
                end = _local_end(start, window, tenant)
            elif (
                isinstance(window, dict)
                and set(window) == {"hours"}
                and isinstance(window["hours"], int)
                and not isinstance(window["hours"], bool)
                and 1 <= window["hours"] <= 366 * 24
            ):
                end = start + timedelta(hours=window["hours"])
            else:
                raise InvalidInputError(
                    {"window": 'Use "day", "week", "month" or {"hours": 1 to 8784}.'}
                )
            values = {k: item.get(k) for k in CONTEST_FIELDS}
            values.update(starts_at=start, ends_at=end)
            contest = existing.get(str(item.get("name")))
            if contest is not None:
                contests.contest_update(contest=contest, changes=values, draft=True)
            else:
                existing[str(item.get("name"))] = contests.contest_create(
                    tenant=tenant, values=values, draft=True
                )
            done += 1
    return done


for _section in (
    Section("kpis", kpis_export, kpis_apply),
    Section("interaction_settings", settings_export, settings_apply, dict),
    Section("point_rules", point_rules_export, point_rules_apply),
    Section("levels", levels_export, levels_apply),
    Section("badges", badges_export, badges_apply),
    Section("rewards", rewards_export, rewards_apply),
    Section("contest_templates", contest_templates_export, contest_templates_apply),
):
    register_section(_section)


# --- the document ---------------------------------------------------------------------------
def game_export(*, tenant: Tenant) -> dict[str, Any]:
    """The tenant's game configuration as one JSON-ready document."""
    document: dict[str, Any] = {"format": FORMAT}
    for section in SECTIONS:
        document[section.name] = section.export(tenant)
    # Through JSON once, so that what is returned is exactly what a file would hold.
    loaded: dict[str, Any] = json.loads(json.dumps(document, default=str))
    return loaded


def game_import(*, tenant: Tenant, document: Any) -> dict[str, int]:
    """Check the whole document and apply it in one transaction, or raise
    GameDocumentInvalid naming every error by its path and apply nothing."""
    errors = Errors()
    if not isinstance(document, dict):
        raise GameDocumentInvalid({"document": "The document must be a JSON object."})
    if document.get("format") != FORMAT:
        errors.add("format", f"Must be {FORMAT!r}.")
    known = {s.name for s in SECTIONS} | {"format"}
    for key in sorted(set(document) - known):
        errors.add(key, f"Unknown section (known: {', '.join(sorted(known - {'format'}))}).")
    for section in SECTIONS:
        value = document.get(section.name, section.kind())
        if not isinstance(value, section.kind):
            errors.add(
                section.name, f"Must be a JSON {'list' if section.kind is list else 'object'}."
            )
    if errors.by_path:
        raise GameDocumentInvalid(errors.by_path)
    counts: dict[str, int] = {}
    with transaction.atomic():
        for section in SECTIONS:
            counts[section.name] = section.apply(
                tenant, document.get(section.name, section.kind()), errors
            )
        if errors.by_path:
            transaction.set_rollback(True)
    if errors.by_path:
        raise GameDocumentInvalid(errors.by_path)
    return counts


def bundled_names() -> list[str]:
    return sorted(path.stem for path in BUNDLED.glob("*.json"))


def bundled_document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((BUNDLED / f"{name}.json").read_text())
    return loaded


def template_apply(name: str) -> Callable[[Tenant], None]:
    def apply(tenant: Tenant) -> None:
        game_import(tenant=tenant, document=bundled_document(name))

    return apply
