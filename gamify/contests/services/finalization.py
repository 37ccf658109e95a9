"""Contest finalization: once, however often it is called (the contest's row is locked and
only a contest still `finalizing` is acted on) — standings frozen as ContestResult rows,
prize coins credited, contest_place and prize badges awarded, activity written, and the next
instance of a recurring contest scheduled."""

from __future__ import annotations

from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone

from gamify.activity.services import NewActivity, activities_record
from gamify.contests.models import Contest, ContestResult
from gamify.contests.services.lifecycle import schedule_next, summary
from gamify.contests.services.standings import agents_of, contest_board, prize_for
from gamify.game.badges import Earned, badges_award
from gamify.game.models import Badge
from gamify.leaderboards.boards import Standing, rank, standings
from gamify.wallet.services import wallet_credit
from kpis.catalogue import kpi_catalogue


class Winner(NamedTuple):
    entry: Standing
    prize: dict[str, Any]


def contest_finalize(*, contest_id: int) -> str:
    """Freeze a contest's standings and pay its prizes — once, however often it is called."""
    with transaction.atomic():
        contest = (  # by id, from the beat or an admin action: it names its tenant
            Contest.objects.unscoped()
            .select_for_update()
            .select_related("tenant")
            .filter(pk=contest_id)
            .first()
        )
        if contest is None or contest.status != Contest.Status.FINALIZING:
            return f"contest {contest_id}: nothing to do"
        winners = _freeze_and_pay(contest)
        _announce(contest, winners)
        contest.status = Contest.Status.FINISHED
        contest.finished_at = timezone.now()
        contest.save(update_fields=["status", "finished_at"])
        if contest.recurrence:
            schedule_next(contest)
    return f"contest {contest_id}: finalized, {len(winners)} winners"


def _freeze_and_pay(contest: Contest) -> list[Winner]:
    """Store every entry's result, credit the winners' coins and award the badges earned (in
    rank order: places first, then prizes). Returns the winners."""
    tenant = contest.tenant
    better = contest.metric == "points" or kpi_catalogue(tenant)[contest.metric].higher_is_better
    ranked, unranked = rank(standings(contest_board(contest)))
    places = _place_badges(contest)
    prize_badges = _prize_badges(contest)
    key = f"contest-{contest.pk}"
    results: list[ContestResult] = []
    winners: list[Winner] = []
    earned: list[Earned] = []
    for position, entry in enumerate([*ranked, *unranked]):
        prize = prize_for(contest, entry, better)
        results.append(_result(contest, entry, prize, position))
        placed = _places_earned(entry, places)
        if not placed and prize is None:
            continue
        agents = agents_of(contest, entry)
        data = {"contest": contest.pk, "rank": entry.rank}
        earned += [Earned(badge, agent, key, dict(data)) for badge in placed for agent in agents]
        if prize is None:
            continue
        winners.append(Winner(entry, prize))
        for agent in agents:
            if prize.get("coins"):
                wallet_credit(
                    tenant=tenant,
                    agent_id=agent,
                    amount=prize["coins"],
                    kind="contest_prize",
                    reference=f"contest:{contest.pk}",
                    idempotency_key=f"contest:{contest.pk}:{entry.entity_id}:{agent}",
                )
            if prize.get("badge"):
                earned.append(Earned(_prize_badge(prize_badges, prize), agent, key, dict(data)))
    ContestResult.objects.bulk_create(results)
    badges_award(tenant=tenant, earned=earned)
    return winners


def _place_badges(contest: Contest) -> list[Badge]:
    """The tenant's active contest_place badges for this contest (or any contest)."""
    return [
        badge
        for badge in Badge.objects.for_tenant(contest.tenant).filter(active=True)
        if badge.kind == Badge.Kind.CONTEST_PLACE
        and badge.criteria.get("contest") in (None, contest.pk)
    ]


def _places_earned(entry: Standing, places: list[Badge]) -> list[Badge]:
    """The place badges a ranked entry wins: those awarded at its rank or a worse one."""
    if not entry.qualified or entry.rank is None:
        return []
    return [badge for badge in places if entry.rank <= int(badge.criteria.get("rank", 1))]


def _prize_badges(contest: Contest) -> dict[str, Badge]:
    """The badges the contest's prizes name, by code (one query for all winners)."""
    codes = {prize["badge"] for prize in contest.prizes if prize.get("badge")}
    if not codes:
        return {}
    return {b.code: b for b in Badge.objects.for_tenant(contest.tenant).filter(code__in=codes)}


def _prize_badge(badges: dict[str, Badge], prize: dict[str, Any]) -> Badge:
    badge = badges.get(prize["badge"])
    if badge is None:  # deleted since the contest was set up: nothing is paid (rolled back)
        raise Badge.DoesNotExist(f"No badge {prize['badge']!r} for a contest prize.")
    return badge


def _result(
    contest: Contest, entry: Standing, prize: dict[str, Any] | None, position: int
) -> ContestResult:
    return ContestResult(
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


def _announce(contest: Contest, winners: list[Winner]) -> None:
    """contest.finished, and contest.won for each winner, in the activity feed."""
    activities = [
        NewActivity(
            type="contest.finished",
            key=f"contest:{contest.pk}:finished",
            data={**summary(contest), "winners": len(winners)},
        )
    ]
    for entry, prize in winners:
        activities.append(
            NewActivity(
                type="contest.won",
                key=f"contest:{contest.pk}:won:{entry.entity_id}",
                agent_id=entry.entity_id if contest.entity == "agent" else None,
                team_id=entry.entity_id if contest.entity == "team" else None,
                data={**summary(contest), "rank": entry.rank, "value": entry.value, "prize": prize},
            )
        )
    activities_record(tenant=contest.tenant, items=activities)
