"""Contests: validation, lifecycle and finalization — the one path for the API and the admin.

Lifecycle: draft → scheduled → running → finalizing → finished (or cancelled). Beat moves
contests along (`contests_advance`); a contest is finalized exactly once (`contest_finalize`
locks its row and only acts on a contest still `finalizing`): standings frozen, prizes paid,
contest_place badges awarded, activity written, and the next instance of a recurring contest
scheduled.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Agent, Team, Tenant
from accounts.selectors import team_descendants
from core.errors import ConflictError, InvalidInputError
from core.times import time_range_error
from gamify.activity.services import NewActivity, activities_record
from gamify.contests.models import Contest, ContestResult
from gamify.game.badges import Earned, badges_award
from gamify.game.finalization import grace
from gamify.game.models import Badge
from gamify.game.services import MAX_RANK, checked_decimal
from gamify.leaderboards import live
from gamify.leaderboards.boards import Board, Guardrail, Standing, rank, standings
from gamify.wallet.services import wallet_credit
from kpis.catalogue import kpi_catalogue
from kpis.periods import hour_start

log = logging.getLogger(__name__)

EDITABLE = (Contest.Status.DRAFT, Contest.Status.SCHEDULED)
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


class ContestClosed(ConflictError):
    slug = "contest-closed"
    title = "The contest can no longer change"


# --- validation -----------------------------------------------------------------------------
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


# --- lifecycle ------------------------------------------------------------------------------
def _status_for(contest: Contest, now: datetime) -> str:
    if contest.starts_at <= now:
        return Contest.Status.RUNNING
    return Contest.Status.SCHEDULED


def contest_create(*, tenant: Tenant, values: Mapping[str, Any], draft: bool = False) -> Contest:
    """Create a contest: a draft, scheduled, or running at once when it started already (what
    happened in its window so far counts)."""
    clean = contest_validate(tenant=tenant, values=values)
    with transaction.atomic():
        contest = Contest(tenant=tenant, **clean)
        contest.status = Contest.Status.DRAFT if draft else _status_for(contest, timezone.now())
        contest.save()
        if contest.status == Contest.Status.RUNNING:
            _started(contest)
    return contest


def contest_update(
    *, contest: Contest, changes: Mapping[str, Any], draft: bool | None = None
) -> Contest:
    """Change a draft or scheduled contest (a running one is closed to edits: 409)."""
    with transaction.atomic():
        contest = Contest.objects.select_for_update().get(pk=contest.pk)
        if contest.status not in EDITABLE:
            raise ContestClosed(f"A {contest.status} contest can no longer be changed.")
        current = {name: getattr(contest, name) for name in FIELDS}
        clean = contest_validate(tenant=contest.tenant, values={**current, **changes})
        for name, value in clean.items():
            setattr(contest, name, value)
        if draft is not None or contest.status != Contest.Status.DRAFT:
            keep_draft = draft if draft is not None else False
            if keep_draft:
                contest.status = Contest.Status.DRAFT
            else:
                contest.status = _status_for(contest, timezone.now())
        contest.save()
        if contest.status == Contest.Status.RUNNING:
            _started(contest)
    return contest


def contest_cancel(*, contest: Contest) -> Contest:
    with transaction.atomic():
        contest = Contest.objects.select_for_update().get(pk=contest.pk)
        if contest.status in (Contest.Status.FINISHED, Contest.Status.CANCELLED):
            raise ContestClosed(f"The contest is already {contest.status}.")
        contest.status = Contest.Status.CANCELLED
        contest.save(update_fields=["status"])
    return contest


def _started(contest: Contest) -> None:
    activities_record(
        tenant=contest.tenant,
        items=[
            NewActivity(
                type="contest.started",
                key=f"contest:{contest.pk}:started",
                data=_summary(contest),
            )
        ],
    )


def _summary(contest: Contest) -> dict[str, Any]:
    return {
        "contest": contest.pk,
        "name": contest.name,
        "kind": contest.kind,
        "metric": contest.metric,
        "starts_at": contest.starts_at.isoformat(),
        "ends_at": contest.ends_at.isoformat(),
    }


def contests_advance(*, tenant: Tenant, now: datetime | None = None) -> list[str]:
    """Beat: start, end and finalize the tenant's contests whose time has come."""
    now = now or timezone.now()
    outcomes = []
    wait = grace(tenant)
    contests = Contest.objects.for_tenant(tenant)
    for contest in contests.filter(status=Contest.Status.SCHEDULED, starts_at__lte=now):
        with transaction.atomic():
            updated = Contest.objects.filter(pk=contest.pk, status=Contest.Status.SCHEDULED).update(
                status=Contest.Status.RUNNING
            )
            if updated:  # another worker may have started it
                _started(contest)
                outcomes.append(f"started {contest.pk}")
    moved = contests.filter(status=Contest.Status.RUNNING, ends_at__lte=now).update(
        status=Contest.Status.FINALIZING
    )
    if moved:
        outcomes.append(f"{moved} ended")
    for contest in contests.filter(status=Contest.Status.FINALIZING, ends_at__lte=now - wait):
        try:
            outcomes.append(contest_finalize(contest_id=contest.pk))
        except Exception:  # one broken contest must not hold back the others
            log.exception("Finalizing contest %s failed; it stays finalizing", contest.pk)
            outcomes.append(f"contest {contest.pk}: failed")
    return outcomes


# --- standings ------------------------------------------------------------------------------
def participant_ids(
    tenant: Tenant, contests: list[Contest]
) -> tuple[dict[str, int], dict[str, int]]:
    """{external id: id} of the teams and agents these contests name (two queries at most)."""
    team_ext = {t for c in contests for t in c.participants.get("teams", [])}
    agent_ext = {a for c in contests for a in c.participants.get("agents", [])}
    teams: dict[str, int] = {}
    agents: dict[str, int] = {}
    if team_ext:
        found = Team.objects.for_tenant(tenant).filter(external_id__in=team_ext)
        teams = dict(found.values_list("external_id", "id"))
    if agent_ext:
        known = Agent.objects.for_tenant(tenant).filter(external_id__in=agent_ext)
        agents = dict(known.values_list("external_id", "id"))
    return teams, agents


def contest_board(
    contest: Contest, known: tuple[dict[str, int], dict[str, int]] | None = None
) -> Board:
    tenant = contest.tenant
    teams, agents = known if known is not None else participant_ids(tenant, [contest])
    team_ids = {teams[t] for t in contest.participants.get("teams", []) if t in teams}
    agent_ids = {agents[a] for a in contest.participants.get("agents", []) if a in agents}
    everyone = not team_ids and not agent_ids
    return Board(
        tenant=tenant,
        key=f"contest:{contest.pk}",
        metric=contest.metric,
        start=contest.starts_at,
        end=contest.ends_at,
        entity=contest.entity,
        agent_ids=None if everyone else frozenset(agent_ids),
        team_ids=None if everyone else frozenset(team_ids),
        min_volume=contest.min_volume,
        guardrails=tuple(
            Guardrail(r["kpi"], r["op"], Decimal(str(r["value"]))) for r in contest.guardrails
        ),
    )


def _target_met(contest: Contest, entry: Standing, better: bool) -> bool:
    if contest.target is None or entry.value is None:
        return False
    value = Decimal(str(entry.value))
    return value >= contest.target if better else value <= contest.target


def prize_for(contest: Contest, entry: Standing, better: bool) -> dict[str, Any] | None:
    if not entry.qualified or entry.rank is None:
        return None
    if contest.kind == Contest.Kind.TARGET:
        if not _target_met(contest, entry, better):
            return None
        return contest.prizes[0] if contest.prizes else {"coins": 0, "badge": None}
    for prize in contest.prizes:
        if prize["rank_from"] <= entry.rank <= prize["rank_to"]:
            return prize
    return None


def contest_standings(contest: Contest) -> tuple[list[Standing], list[Standing]]:
    """(ranked, not qualified): frozen once finished, else live from the buckets."""
    if contest.status == Contest.Status.FINISHED:
        ranked: list[Standing] = []
        unranked: list[Standing] = []
        for row in contest.results.all():
            entry = Standing(
                row.entity_id,
                row.external_id,
                row.display_name,
                row.value,
                row.volume,
                row.qualified,
                row.reason,
                rank=row.rank,
                extra={"prize": {"coins": row.prize_coins, "badge": row.prize_badge or None}},
            )
            (ranked if row.qualified else unranked).append(entry)
        return ranked, unranked
    return rank(standings(contest_board(contest)))


def contest_finalize(*, contest_id: int) -> str:
    """Freeze a contest's standings and pay its prizes — once, however often it is called."""
    with transaction.atomic():
        contest = (
            Contest.objects.select_for_update()
            .select_related("tenant")
            .filter(pk=contest_id)
            .first()
        )
        if contest is None or contest.status != Contest.Status.FINALIZING:
            return f"contest {contest_id}: nothing to do"
        tenant = contest.tenant
        better = (
            contest.metric == "points" or kpi_catalogue(tenant)[contest.metric].higher_is_better
        )
        ranked, unranked = rank(standings(contest_board(contest)))
        results, winners, earned = [], [], []
        place_badges = [
            b
            for b in Badge.objects.for_tenant(tenant).filter(active=True)
            if b.kind == Badge.Kind.CONTEST_PLACE
            and b.criteria.get("contest") in (None, contest.pk)
        ]
        for position, entry in enumerate([*ranked, *unranked]):
            if entry.qualified and entry.rank is not None:
                for badge in place_badges:
                    if entry.rank <= int(badge.criteria.get("rank", 1)):
                        for agent in _agents_of(contest, entry):
                            data: dict[str, Any] = {"contest": contest.pk, "rank": entry.rank}
                            earned.append(Earned(badge, agent, f"contest-{contest.pk}", data))
            prize = prize_for(contest, entry, better)
            results.append(
                ContestResult(
                    contest=contest,
                    entity_id=entry.entity_id,
                    external_id=entry.external_id,
                    display_name=entry.name,
                    rank=entry.rank if entry.qualified else None,
                    value=entry.value,
                    volume=entry.volume,
                    qualified=entry.qualified,
                    reason=entry.reason[:300],
                    prize_coins=(prize or {}).get("coins", 0),
                    prize_badge=(prize or {}).get("badge") or "",
                    position=position,
                )
            )
            if prize is None:
                continue
            winners.append((entry, prize))
            for agent in _agents_of(contest, entry):
                if prize.get("coins"):
                    wallet_credit(
                        tenant=tenant,
                        agent_id=agent,
                        amount=prize["coins"],
                        kind="contest_prize",
                        reference=f"contest:{contest.pk}",
                        idempotency_key=f"contest:{contest.pk}:{entry.entity_id}:{agent}",
                    )
                data = {"contest": contest.pk, "rank": entry.rank}
                if prize.get("badge"):
                    badge = Badge.objects.for_tenant(tenant).get(code=prize["badge"])
                    earned.append(Earned(badge, agent, f"contest-{contest.pk}", data))
        ContestResult.objects.bulk_create(results)
        badges_award(tenant=tenant, earned=earned)
        activities = [
            NewActivity(
                type="contest.finished",
                key=f"contest:{contest.pk}:finished",
                data={**_summary(contest), "winners": len(winners)},
            )
        ]
        for entry, prize in winners:
            activities.append(
                NewActivity(
                    type="contest.won",
                    key=f"contest:{contest.pk}:won:{entry.entity_id}",
                    agent_id=entry.entity_id if contest.entity == "agent" else None,
                    team_id=entry.entity_id if contest.entity == "team" else None,
                    data={
                        **_summary(contest),
                        "rank": entry.rank,
                        "value": entry.value,
                        "prize": prize,
                    },
                )
            )
        activities_record(tenant=tenant, items=activities)
        contest.status = Contest.Status.FINISHED
        contest.finished_at = timezone.now()
        contest.save(update_fields=["status", "finished_at"])
        if contest.recurrence:
            _schedule_next(contest)
    return f"contest {contest_id}: finalized, {len(winners)} winners"


def _agents_of(contest: Contest, entry: Standing) -> list[int]:
    """Who receives a prize: the agent, or every active agent of the team (sub-teams too)."""
    if contest.entity == "agent":
        return [entry.entity_id]
    teams = team_descendants(tenant=contest.tenant, team_id=entry.entity_id)
    return list(
        Agent.objects.for_tenant(contest.tenant)
        .filter(team_id__in=teams, active=True)
        .values_list("id", flat=True)
    )


def _schedule_next(contest: Contest) -> Contest:
    tz = contest.tenant.tz
    start, end = contest.starts_at.astimezone(tz), contest.ends_at.astimezone(tz)

    def shift(moment: datetime) -> datetime:
        if contest.recurrence == Contest.Recurrence.DAILY:
            local = moment.replace(tzinfo=None) + timedelta(days=1)
        elif contest.recurrence == Contest.Recurrence.WEEKLY:
            local = moment.replace(tzinfo=None) + timedelta(days=7)
        else:
            month = moment.month % 12 + 1
            year = moment.year + (moment.month == 12)
            # The 31st of a 30-day month is its last day (and so on for February).
            last_day = calendar.monthrange(year, month)[1]
            local = moment.replace(
                tzinfo=None, year=year, month=month, day=min(moment.day, last_day)
            )
        return local.replace(tzinfo=tz)

    values = {name: getattr(contest, name) for name in FIELDS}
    next_start, next_end = shift(start), shift(end)
    while next_end <= timezone.now():  # a finalization that ran late skips missed instances
        next_start, next_end = shift(next_start), shift(next_end)
    values.update(starts_at=next_start, ends_at=next_end)
    clean = contest_validate(tenant=contest.tenant, values=values)
    following = Contest(tenant=contest.tenant, previous=contest, **clean)
    following.status = _status_for(following, timezone.now())
    following.save()
    if following.status == Contest.Status.RUNNING:
        _started(following)
    return following


def running_contests_refresh(*, tenant: Tenant, agent_ids: set[int]) -> int:
    """Keep running agent contests' live boards for the touched agents."""
    if not live.available() or not agent_ids:
        return 0
    written = 0
    for contest in Contest.objects.for_tenant(tenant).filter(
        status__in=[Contest.Status.RUNNING, Contest.Status.FINALIZING], entity="agent"
    ):
        board = contest_board(contest)
        if not live.is_ready(board):
            continue  # populated on first read
        entries = standings(board, only=agent_ids)
        live.remove(board, agent_ids - {e.entity_id for e in entries})
        live.write(board, entries, full=False)
        written += len(entries)
    return written


def running_contests_populate(*, tenant: Tenant) -> int:
    """Refill the live standings of running agent contests (after everything was recomputed);
    boards nobody read stay unfilled. The caller holds the apply lock."""
    if not live.available():
        return 0
    written = 0
    for contest in Contest.objects.for_tenant(tenant).filter(
        status__in=[Contest.Status.RUNNING, Contest.Status.FINALIZING], entity="agent"
    ):
        board = contest_board(contest)
        if live.is_ready(board):
            entries = standings(board)
            live.write(board, entries, full=True)
            written += len(entries)
    return written


def contest_board_populate(*, contest: Contest) -> int:
    """Fill a running agent contest's live standings from SQL; returns entries written.
    The caller holds the apply lock, so no refresh computed earlier lands after this fill."""
    if contest.status not in (Contest.Status.RUNNING, Contest.Status.FINALIZING):
        return 0
    if contest.entity != "agent":
        return 0
    board = contest_board(contest)
    entries = standings(board)
    live.write(board, entries, full=True)
    return len(entries)
