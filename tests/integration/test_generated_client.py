"""A typed client generated from the served /api/schema/ (openapi-python-client) runs a real
flow against a live production-mode stack: every request is built from the schema's models,
every answer parsed back into them, so a response that strays from its schema fails here.
"""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from bench.stack import VENV_BIN, wait_until
from tests.integration.live import live_stack

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TZ = ZoneInfo("Asia/Shanghai")  # the live tenant's timezone
PACKAGE = "gamify_client"
GENERATOR_CONFIG = {
    "package_name_override": PACKAGE,
    "project_name_override": "gamify-client",
    "post_hooks": [],  # no formatter run over the generated code
    # The generator knows JSON, forms and application/octet-stream bodies; the NDJSON import
    # is a string of bytes like the latter (the schema says so), sent as application/x-ndjson.
    "content_type_overrides": {"application/x-ndjson": "application/octet-stream"},
}


@pytest.fixture
def live(tmp_path):
    with live_stack(tmp_path) as live:
        yield live


@pytest.fixture
def generated(live, tmp_path):
    """The client package generated from the live server's schema, imported."""
    schema = requests.get(f"{live.base_url}/api/schema/?format=json", timeout=30)
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_text(schema.text)
    (tmp_path / "config.json").write_text(json.dumps(GENERATOR_CONFIG))
    run = subprocess.run(
        [
            str(VENV_BIN / "openapi-python-client"),
            "generate",
            "--path",
            "schema.json",
            "--config",
            "config.json",
            "--meta",
            "none",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Every operation generated: the generator skips (with a warning) what it cannot type.
    assert "Endpoint will not be generated" not in run.stdout + run.stderr, run.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def call(module: Any, expected: int, **kwargs: Any) -> Any:
    """One operation through the generated client: the status, then the parsed model."""
    response = module.sync_detailed(**kwargs)
    assert response.status_code == expected, (module.__name__, response.content[:2000])
    return response


def test_a_generated_typed_client_runs_a_flow(live, generated):
    from gamify_client import AuthenticatedClient, models
    from gamify_client.api.agents import (
        agents_kpis,
        agents_list,
        agents_profile,
        agents_upsert,
        points_adjustments_create,
        wallet_grants_create,
    )
    from gamify_client.api.badges import badges_create, badges_list
    from gamify_client.api.contests import contests_create, contests_standings
    from gamify_client.api.events import events_import, events_import_retrieve, events_ingest
    from gamify_client.api.ingest import ingest_status
    from gamify_client.api.levels import levels_replace
    from gamify_client.api.point_rules import point_rules_create
    from gamify_client.api.redemptions import (
        redemptions_approve,
        redemptions_create,
        redemptions_fulfill,
    )
    from gamify_client.api.rewards import rewards_create
    from gamify_client.api.teams import teams_upsert
    from gamify_client.types import File

    client = AuthenticatedClient(
        base_url=live.base_url, token=live.api_key, raise_on_unexpected_status=True, timeout=30
    )

    # Teams and agents; the list pages with limit and cursor.
    call(
        teams_upsert,
        201,
        client=client,
        external_id="t1",
        body=models.TeamInputRequest(name="Tier 1", parent=None),
    )
    for n in range(3):
        call(
            agents_upsert,
            201,
            client=client,
            external_id=f"a{n}",
            body=models.AgentInputRequest(display_name=f"Agent {n}", team="t1"),
        )
    seen, cursor = [], None
    while True:
        kwargs = {"cursor": cursor} if cursor else {}
        page = call(agents_list, 200, client=client, limit=2, **kwargs).parsed
        seen += [agent.external_id for agent in page.results]
        if not page.next_:
            break
        cursor = page.next_.split("cursor=")[1].split("&")[0]
        cursor = requests.utils.unquote(cursor)
    assert seen == ["a0", "a1", "a2"]

    # Events: a batch of typed events, then an NDJSON import of more.
    # The start of the tenant's current hour: today in its timezone, and not in the future.
    now = datetime.now(TZ).replace(minute=0, second=0, microsecond=0)
    calls = [
        models.InteractionEvent(
            event_id=f"call-{n}",
            occurred_at=now,
            type_="interaction",
            agent="a1",
            answered=True,
            talk_seconds=100.0 + n,
            wait_seconds=5.0,
        )
        for n in range(4)
    ]
    survey = models.SurveyEvent(
        event_id="survey-1", occurred_at=now, type_="survey", agent="a1", csat=5
    )
    ingested = call(
        events_ingest, 202, client=client, body=models.EventBatch(events=[*calls, survey])
    ).parsed
    assert (ingested.accepted, ingested.duplicates, ingested.rejected) == (5, 0, [])
    lines = (
        "\n".join(
            json.dumps(
                {
                    "event_id": f"imported-{n}",
                    "type": "interaction",
                    "agent": "a2",
                    "occurred_at": now.isoformat(),
                    "answered": True,
                    "talk_seconds": 60,
                }
            )
            for n in range(3)
        )
        + "\n"
    )
    job = call(
        events_import, 202, client=client, body=File(payload=io.BytesIO(lines.encode()))
    ).parsed

    def finished() -> Any:
        job_now = call(events_import_retrieve, 200, client=client, job_id=job.id).parsed
        return job_now if job_now.status == models.ImportStatusEnum.FINISHED else None

    job = wait_until(finished, timeout=60, what="the import")
    assert (job.lines, job.accepted, job.rejected) == (3, 3, [])
    wait_until(
        lambda: call(ingest_status, 200, client=client).parsed.pending == 0,
        timeout=60,
        what="the worker to apply the events",
    )
    day = now.date()
    kpis = call(
        agents_kpis,
        200,
        client=client,
        external_id="a1",
        period=models.AgentsKpisPeriod.DAY,
        date=day,
    ).parsed
    assert kpis.kpis["contacts_handled"].value == 4
    assert kpis.kpis["csat"].value == 100

    # Game configuration with typed bodies: a rule, the levels, a badge of each shape.
    rule = call(
        point_rules_create,
        201,
        client=client,
        body=models.PointRuleInputRequest(
            name="Per contact",
            kpi="contacts_handled",
            kind=models.PointRuleInputKindEnum.PER_UNIT,
            points=10,
            cap=1000,
        ),
    ).parsed
    assert (rule.points, rule.cap) == (10, 1000)
    levels = call(
        levels_replace,
        200,
        client=client,
        body=[
            models.LevelRequest(number=1, name="Rookie", min_points=0),
            models.LevelRequest(number=2, name="Pro", min_points=30),
        ],
    ).parsed
    assert [level.name for level in levels] == ["Rookie", "Pro"]
    criteria = models.CountCriteriaRequest(
        kind=models.CountCriteriaKindEnum.COUNT,
        kpi="contacts_handled",
        count=2,
        period=models.CountPeriodEnum.DAY,
    )
    badge = call(
        badges_create,
        201,
        client=client,
        body=models.BadgeInputRequest(
            code="busy",
            name="Busy",
            criteria=criteria,
            coins=5,
        ),
    ).parsed
    assert isinstance(badge.criteria, models.CountCriteria)
    assert badge.criteria.count == 2
    streak = models.StreakCriteriaRequest(
        kind=models.StreakCriteriaKindEnum.STREAK,
        kpi="fcr",
        threshold=80.0,
        period=models.StreakPeriodEnum.DAY,
        length=3,
    )
    call(
        badges_create,
        201,
        client=client,
        body=models.BadgeInputRequest(code="steady", name="Steady", criteria=streak),
    )
    winner = models.ContestPlaceCriteriaRequest(
        kind=models.ContestPlaceCriteriaKindEnum.CONTEST_PLACE, rank=1
    )
    call(
        badges_create,
        201,
        client=client,
        body=models.BadgeInputRequest(code="winner", name="Winner", criteria=winner),
    )
    listed = call(badges_list, 200, client=client, limit=500).parsed.results
    assert [type(b.criteria) for b in listed] == [
        models.CountCriteria,
        models.StreakCriteria,
        models.ContestPlaceCriteria,
    ]

    # Points arrive on the worker: 4 contacts × 10 points, level Pro, the badge's coins.
    def profile() -> Any:
        body = call(agents_profile, 200, client=client, external_id="a1").parsed
        return body if body.points.day == 40 and body.badges else None

    body = wait_until(profile, timeout=60, what="points and the badge")
    assert (body.level.name, body.badges[0].code, body.wallet.balance) == ("Pro", "busy", 5)
    adjustment = call(
        points_adjustments_create,
        201,
        client=client,
        external_id="a1",
        idempotency_key="adj-1",
        body=models.AdjustmentInputRequest(points=-5, reason="Double count"),
    )
    again = call(
        points_adjustments_create,
        201,
        client=client,
        external_id="a1",
        idempotency_key="adj-1",
        body=models.AdjustmentInputRequest(points=-5, reason="Double count"),
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.parsed.id == adjustment.parsed.id

    # Coins: a grant, a reward, a redemption through its lifecycle; the 409s parse as Problem.
    grant = call(
        wallet_grants_create,
        201,
        client=client,
        external_id="a1",
        idempotency_key="kudos-1",
        body=models.GrantInputRequest(amount=100, reason="Kudos"),
    )
    assert grant.parsed.balance_after == 105
    reward = call(
        rewards_create,
        201,
        client=client,
        body=models.RewardInputRequest(name="Cinema", cost=60, stock=5),
    ).parsed
    redemption = call(
        redemptions_create,
        201,
        client=client,
        idempotency_key="r-1",
        body=models.RedemptionInputRequest(agent="a1", reward=reward.id),
    ).parsed
    assert redemption.status == models.RedemptionStatusEnum.REQUESTED
    broke = call(
        redemptions_create,
        409,
        client=client,
        body=models.RedemptionInputRequest(agent="a1", reward=reward.id),
    ).parsed
    assert broke.type_.endswith("insufficient-funds")
    assert (broke.balance, broke.needed) == (45, 60)
    early = call(redemptions_fulfill, 409, client=client, redemption_id=redemption.id).parsed
    assert early.redemption_status == models.RedemptionStatusEnum.REQUESTED
    call(redemptions_approve, 200, client=client, redemption_id=redemption.id)
    done = call(redemptions_fulfill, 200, client=client, redemption_id=redemption.id).parsed
    assert done.status == models.RedemptionStatusEnum.FULFILLED

    # A contest with typed participants, guardrails and prizes, read back typed.
    start = now - timedelta(hours=1)
    contest = call(
        contests_create,
        201,
        client=client,
        body=models.ContestInputRequest(
            name="Power hours",
            metric="contacts_handled",
            starts_at=start,
            ends_at=start + timedelta(hours=4),
            participants=models.ParticipantsRequest(teams=["t1"]),
            guardrails=[models.GuardrailRequest(kpi="csat", op=models.OpEnum.VALUE_0, value=80.0)],
            prizes=[models.PrizeRequest(rank_from=1, rank_to=1, coins=50, badge="winner")],
        ),
    ).parsed
    assert contest.status == models.ContestStatusEnum.RUNNING
    assert contest.prizes[0].badge == "winner"
    assert contest.participants.teams == ["t1"]
    standings = call(contests_standings, 200, client=client, contest_id=contest.id).parsed
    assert [(e.agent, e.rank) for e in standings.entries] == [("a1", 1)]
    # a2 handled contacts too, with no survey: the CSAT guardrail keeps it out of the ranks.
    assert [e.agent for e in standings.not_qualified] == ["a2"]
