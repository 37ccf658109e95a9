"""The widget pages over HTTP: what each shows, tokens refused with a 401 page in the
agent's language, the tenant's framing origins, anonymization, and the 304 that keeps
polling cheap."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import signing
from django.test import Client

from accounts.api.auth import WIDGET_SALT, WIDGET_TOKEN_PREFIX, widget_token_mint
from accounts.services import agent_upsert, team_upsert
from gamify.game import services as game
from gamify.wallet import services as wallet
from gamify.wallet.models import Redemption
from gamify.widgets import access, selectors
from gamify.widgets.models import WidgetSettings
from tests.game.support import SHANGHAI, call, ingest, make_rule

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=True):
        access.forget()
        selectors.forget()
        yield
        access.forget()
        selectors.forget()


@pytest.fixture
def a2(tenant, team):
    agent, _ = agent_upsert(
        tenant=tenant, external_id="a2", display_name="Bo Chen", team_external_id="t1"
    )
    return agent


def token_for(agent=None, team=None, ttl=600):
    return widget_token_mint(agent=agent, team=team, ttl_seconds=ttl)[0]


def get(path, token, **params):
    return Client().get(path, {"token": token, **params})


def text(response) -> str:
    """The page's visible text, tags stripped (what a reader sees)."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def played(tenant, agent, a2):
    """Ann: 3 calls at 10 points each today, a -5 adjustment; Bo: 1 call."""
    make_rule(tenant, name="Per contact", kpi="contacts_handled", kind="per_unit", points=10)
    ingest(tenant, [call("a1", NOW.replace(hour=h)) for h in (9, 10, 11)] + [call("a2", NOW)])
    game.points_adjust(tenant=tenant, agent=agent, points=-5, reason="Late to shift", actor="t")
    return agent


# --- the agent card -------------------------------------------------------------------------
def test_agent_card_shows_points_ranks_and_why(played, tenant):
    response = get("/widgets/agent", token_for(played))
    assert response.status_code == 200
    page = text(response)
    assert "Ann Lee" in page
    assert re.search(r"Points today\s+25\b", page)  # 3 × 10 − 5
    assert re.search(r"Rank today\s+#1\b", page)
    # the "why" list: the rule with the KPI figure that earned it, and the adjustment
    assert re.search(r"Per contact\s+Contacts handled: 3\s+\+30", page)
    assert re.search(r"Adjustment by your supervisor\s+Late to shift\s+−5", page)
    assert response["Content-Language"] == "en"
    assert 'dir="ltr"' in response.content.decode()


def test_persian_card_is_rtl_with_persian_digits(played, tenant):
    played.locale = "fa"
    played.save()
    response = get("/widgets/agent", token_for(played))
    html = response.content.decode()
    assert 'dir="rtl"' in html
    assert 'lang="fa"' in html
    page = text(response)
    assert "امتیاز امروز" in page
    assert "۲۵" in page
    assert not re.search(r"امتیاز امروز\s+25", page)


def test_lang_parameter_overrides_the_locale(played):
    response = get("/widgets/agent", token_for(played), lang="zh-Hant")
    assert response["Content-Language"] == "zh-hant"
    assert "今日積分" in text(response)


# --- tokens ---------------------------------------------------------------------------------
def _forged(payload):
    return WIDGET_TOKEN_PREFIX + signing.dumps(payload, salt=WIDGET_SALT, compress=True)


def test_expired_token_gets_a_401_page_in_the_agents_language(agent):
    agent.locale = "zh-Hans"
    agent.save()
    expired = _forged({"t": agent.tenant_id, "a": agent.pk, "e": int(time.time()) - 5})
    response = get("/widgets/agent", expired)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("text/html")
    assert "链接已过期" in text(response)
    assert "Traceback" not in response.content.decode()


@pytest.mark.parametrize("page", ["/widgets/agent", "/widgets/leaderboard", "/widgets/store"])
def test_tampered_missing_foreign_and_deactivated_tokens_are_401(page, agent, outsider):
    good = token_for(agent)
    tampered = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    foreign = _forged({"t": outsider.pk, "a": agent.pk, "e": int(time.time()) + 600})
    for token in (tampered, "", "wgt_nonsense", foreign):
        response = get(page, token)
        assert response.status_code == 401, token
        assert "Link not valid" in text(response)
    assert get(page, good).status_code == 200
    access.forget()
    agent.active = False
    agent.save()
    access.forget()
    response = get(page, good)
    assert response.status_code == 401
    assert "no longer valid" in text(response)


def test_a_remembered_token_is_refused_on_the_first_poll_after_deactivation_or_expiry(
    agent, django_capture_on_commit_callbacks
):
    """Polls authenticate from this process's memory (no query), yet an agent deactivated
    through a save (which moves the tenant's epoch stamp on commit) gets the 401 page on its
    very next poll, and a token past its expiry on the first poll after it."""
    good = token_for(agent, ttl=600)
    assert get("/widgets/agent", good).status_code == 200
    assert get("/widgets/store", good).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        agent.active = False
        agent.save()
    for page in ("/widgets/agent", "/widgets/store"):
        response = get(page, good)
        assert response.status_code == 401, page
        assert "no longer valid" in text(response)

    other = agent_upsert(
        tenant=agent.tenant, external_id="a9", display_name="Cy", team_external_id="t1"
    )[0]
    short = token_for(other, ttl=30)
    assert get("/widgets/agent", short).status_code == 200
    with time_machine.travel(NOW + timedelta(seconds=31), tick=False):  # still remembered
        response = get("/widgets/agent", short)
    assert response.status_code == 401
    assert "expired" in text(response)


def test_widget_token_cannot_manage_or_read_another_wallet(agent, a2):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(agent)}")
    assert client.get("/api/v1/agents/a1/wallet").status_code == 200
    assert client.get("/api/v1/agents/a2/wallet").status_code == 403
    assert (
        client.post("/api/v1/rewards", {"name": "x", "cost": 1}, format="json").status_code == 403
    )
    assert client.post("/api/v1/widget-tokens", {"agent": "a2"}, format="json").status_code == 403
    assert client.get("/api/v1/agents").status_code == 403


def test_team_token_opens_the_wallboard_only(api, tenant, team, agent, a2):
    _other, _ = team_upsert(
        tenant=tenant, external_id="t9", name="Night shift", parent_external_id=None
    )
    agent_upsert(tenant=tenant, external_id="a9", display_name="Zed Night", team_external_id="t9")
    make_rule(tenant, name="Per contact", kpi="contacts_handled", kind="per_unit", points=10)
    ingest(tenant, [call("a1", NOW), call("a9", NOW), call("a9", NOW)])
    response = api.post("/api/v1/widget-tokens", {"team": "t1"}, format="json")
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    wall = get("/widgets/wallboard", token)
    assert wall.status_code == 200
    page = text(wall)
    assert "Tier 1" in page
    assert "Ann Lee" in page
    assert "Zed Night" not in page
    assert "Night shift" not in page
    # a team token is not an agent's: no card, no store, no API
    assert get("/widgets/agent", token).status_code == 401
    assert get("/widgets/store", token).status_code == 401
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/agents/a1/wallet").status_code == 403
    assert client.get("/api/v1/agents/a1/profile").status_code == 403
    # and an agent's token does not open the wallboard
    assert get("/widgets/wallboard", token_for(agent)).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "agent"), ({"agent": "a1", "team": "t1"}, "agent"), ({"team": "nope"}, None)],
)
def test_widget_token_endpoint_refuses_bad_bodies(api, agent, body, field):
    response = api.post("/api/v1/widget-tokens", body, format="json")
    if field is None:
        assert response.status_code == 404
    else:
        assert response.status_code == 400
        assert field in response.json()["errors"]


# --- framing, privacy -----------------------------------------------------------------------
def test_frame_ancestors_carry_the_tenants_origins(agent, tenant):
    tenant.widget_origins = ["https://desktop.example.com", "https://x.test;script-src *"]
    tenant.save()
    response = get("/widgets/agent", token_for(agent))
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://desktop.example.com" in csp
    assert "x.test" not in csp  # not an origin: never reaches the header
    assert "X-Frame-Options" not in response
    assert response["Referrer-Policy"] == "no-referrer"


def test_anonymized_tenant_shows_no_other_agents_name_or_id(played, tenant, a2):
    WidgetSettings.objects.create(tenant=tenant, anonymize_others=True)
    team_token = widget_token_mint(team=played.team, ttl_seconds=600)[0]
    for path, token in [
        ("/widgets/agent", token_for(played)),
        ("/widgets/leaderboard", token_for(played)),
        ("/widgets/wallboard", team_token),
    ]:
        for fragment in ("", "1"):
            html = get(path, token, fragment=fragment).content.decode()
            assert "Bo Chen" not in html, path
            assert not re.search(r"\ba2\b", html), path
    board = text(get("/widgets/leaderboard", token_for(played)))
    assert "Ann Lee" in board
    assert "Agent #2" in board
    # the other agent sees themselves named and Ann anonymized
    other = text(get("/widgets/leaderboard", token_for(a2)))
    assert "Bo Chen" in other
    assert "Ann Lee" not in other
    assert "Agent #1" in other


# --- leaderboard ----------------------------------------------------------------------------
def test_leaderboard_ties_share_a_rank_and_low_volume_waits(api, commit, tenant, agent, a2):
    agent_upsert(tenant=tenant, external_id="a3", display_name="Cy Dee", team_external_id="t1")
    make_rule(tenant, name="Per contact", kpi="contacts_handled", kind="per_unit", points=10)
    ingest(tenant, [call("a1", NOW), call("a2", NOW), call("a3", NOW), call("a3", NOW)])
    page = text(get("/widgets/leaderboard", token_for(agent)))
    assert re.search(r"1 Cy Dee 20 2 Ann Lee \(you\) 10 2 Bo Chen 10", page)
    # handle time needs 3 contacts: Cy (2) needs 1 more, Ann and Bo (1 each) 2 more
    response = commit(lambda: api.patch("/api/v1/kpis/aht", {"min_volume": 3}, format="json"))
    assert response.status_code == 200, response.content
    page = text(get("/widgets/leaderboard", token_for(agent), metric="aht"))
    assert "Nobody is ranked yet." in page
    assert re.search(r"Cy Dee — not ranked yet \(1 more contact\)", page)
    assert re.search(r"Ann Lee — not ranked yet \(2 more contacts\)", page)


# --- the store ------------------------------------------------------------------------------
def test_store_redemption_is_idempotent_by_key(agent, tenant):
    reward = wallet.reward_create(tenant=tenant, values={"name": "Cinema", "cost": 30, "stock": 5})
    wallet.wallet_credit(
        tenant=tenant,
        agent_id=agent.pk,
        amount=100,
        kind="grant",
        reference="t",
        idempotency_key="k1",
    )
    token = token_for(agent)
    page = text(get("/widgets/store", token))
    assert "Cinema" in page
    assert "30 coins" in page
    assert "5 left" in page
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_IDEMPOTENCY_KEY": "click-1"}
    body = json.dumps({"reward": reward.pk})
    first = client.post("/widgets/store/redeem", body, content_type="application/json", **headers)
    again = client.post("/widgets/store/redeem", body, content_type="application/json", **headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["balance"] == again.json()["balance"] == 70
    assert Redemption.objects.filter(agent=agent).count() == 1
    page = text(get("/widgets/store", token))
    assert "Requested" in page
    assert re.search(r"Your coins: 70\b", page)
    # no key, a bad body, a team token: refused, nothing spent
    no_key = client.post(
        "/widgets/store/redeem",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert no_key.status_code == 400
    bad = client.post("/widgets/store/redeem", "{}", content_type="application/json", **headers)
    assert bad.status_code == 400
    assert "reward" in bad.json()["errors"]
    poor = wallet.reward_create(tenant=tenant, values={"name": "Trip", "cost": 1000})
    broke = client.post(
        "/widgets/store/redeem",
        json.dumps({"reward": poor.pk}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IDEMPOTENCY_KEY="click-2",
    )
    assert broke.status_code == 409
    assert "enough coins" in broke.json()["detail"]
    assert Redemption.objects.filter(agent=agent).count() == 1


# --- live: 304 when nothing changed ---------------------------------------------------------
def test_polling_answers_304_until_something_changes(played, tenant, django_assert_num_queries):
    token = token_for(played)
    client = Client()
    first = client.get("/widgets/agent", {"token": token, "fragment": "1"})
    etag = first["ETag"]
    with django_assert_num_queries(0):
        same = client.get(
            "/widgets/agent", {"token": token, "fragment": "1"}, HTTP_IF_NONE_MATCH=etag
        )
    assert same.status_code == 304
    assert same.content == b""
    game.points_adjust(tenant=tenant, agent=played, points=7, reason="Great save", actor="t")
    from gamify.widgets import versions

    versions.bump(tenant.pk, [played.pk])  # what the on-commit hook does
    moved = client.get("/widgets/agent", {"token": token, "fragment": "1"}, HTTP_IF_NONE_MATCH=etag)
    assert moved.status_code == 200
    assert moved["ETag"] != etag
    assert re.search(r"Points today\s+32\b", text(moved))


def test_a_card_keeps_one_copy_of_its_own_part_whatever_its_versions(played, tenant):
    # The own part is kept per agent, the newest version replacing the last: a card whose
    # agent moves at every poll keeps one entry in the worker and one in the cache, not one
    # per version for OWN_SECONDS (which grew a widget worker and Redis through a soak).
    from django.core.cache import cache

    from gamify.widgets import versions, views

    views._own.clear()
    token = token_for(played)
    client = Client()
    for n, expected in enumerate((25, 26, 27, 28)):
        if n:
            game.points_adjust(tenant=tenant, agent=played, points=1, reason="Save", actor="t")
            versions.bump(tenant.pk, [played.pk])
        page = client.get("/widgets/agent", {"token": token, "fragment": "1"})
        assert page.status_code == 200
        assert re.search(rf"Points today\s+{expected}\b", text(page))
    assert list(views._own) == [f"widgets:c3:{tenant.pk}:{played.pk}"]
    assert (
        cache.get(f"widgets:c3:{tenant.pk}:{played.pk}")[3]
        == views._own[f"widgets:c3:{tenant.pk}:{played.pk}"][3]
    )


def test_another_agents_event_moves_my_rank_at_the_next_poll(
    played, tenant, a2, django_assert_num_queries
):
    """Ann (25 points) is first today; Bo's three calls (40) put her second. Bo's event stamps
    only Bo and the tenant, yet Ann's card shows #2 at its next poll; an event that moves
    nobody past her keeps answering 304, from the live boards alone (no query)."""
    from gamify.widgets import versions

    token = token_for(played)
    client = Client()
    first = client.get("/widgets/agent", {"token": token, "fragment": "1"})
    assert re.search(r"Rank today\s+#1\b", text(first))
    ingest(tenant, [call("a2", NOW.replace(hour=h)) for h in (12, 13, 14)])
    versions.bump(tenant.pk, [a2.pk])  # what the on-commit hook does: Bo's stamp and the tenant's
    moved = client.get(
        "/widgets/agent", {"token": token, "fragment": "1"}, HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert moved.status_code == 200
    assert re.search(r"Rank today\s+#2\b", text(moved))
    assert re.search(r"Rank this week\s+#2\b", text(moved))
    assert re.search(r"Points today\s+25\b", text(moved))  # her own figures did not move
    ingest(tenant, [call("a2", NOW.replace(hour=14, minute=30))])  # Bo 50: Ann still second
    versions.bump(tenant.pk, [a2.pk])
    with django_assert_num_queries(0):
        same = client.get(
            "/widgets/agent", {"token": token, "fragment": "1"}, HTTP_IF_NONE_MATCH=moved["ETag"]
        )
    assert same.status_code == 304


def test_a_contest_standing_moved_by_another_agent_shows_at_the_next_poll(played, tenant, a2):
    """A running contest on contacts: Ann 3, Bo 1, so Ann is #1; Bo's three more calls make
    him 4 and Ann #2 at her card's next poll (Bo's and the tenant's stamps only)."""
    from gamify.contests import services as contests
    from gamify.widgets import versions

    contests.contest_create(
        tenant=tenant,
        values={"name": "Friday sprint", "kind": "ranked", "entity": "agent",
                "metric": "contacts_handled", "starts_at": NOW.replace(hour=8),
                "ends_at": NOW.replace(hour=20)},
    )  # fmt: skip
    versions.bump(tenant.pk, everything=True)  # the contest saved
    token = token_for(played)
    client = Client()
    first = client.get("/widgets/agent", {"token": token, "fragment": "1"})
    assert re.search(r"Friday sprint\s+You are #1\b", text(first))
    ingest(tenant, [call("a2", NOW.replace(hour=h)) for h in (12, 13, 14)])
    versions.bump(tenant.pk, [a2.pk])
    moved = client.get(
        "/widgets/agent", {"token": token, "fragment": "1"}, HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert moved.status_code == 200
    assert re.search(r"Friday sprint\s+You are #2\b", text(moved))


def test_pages_answer_in_a_bounded_number_of_queries(played, tenant, a2, count_queries):
    """More agents, awards and rows do not add queries (no N+1)."""
    token = token_for(played)
    get("/widgets/agent", token)  # warm: the token, the KPI catalogue, the level table
    few = count_queries(lambda: get("/widgets/agent", token))
    for n in range(3, 9):
        agent_upsert(tenant=tenant, external_id=f"a{n}", display_name=f"Agent {n}",
                     team_external_id="t1")  # fmt: skip
    make_rule(tenant, name="Per survey", kpi="csat", kind="per_unit", points=1)
    ingest(tenant, [call(f"a{n}", NOW) for n in range(3, 9)] + [call("a1", NOW)])
    get("/widgets/agent", token)
    many = count_queries(lambda: get("/widgets/agent", token))
    assert many <= few + 2  # one more rule's figure, nothing per agent
    assert count_queries(lambda: get("/widgets/leaderboard", token)) <= 12
    assert count_queries(lambda: get("/widgets/store", token)) <= 8
    assert many <= 20


def test_a_manager_turns_anonymization_on_in_the_admin(tenant, agent, a2, admin_client):
    response = admin_client.post(
        "/admin/widgets/widgetsettings/add/", {"tenant": tenant.pk, "anonymize_others": "on"}
    )
    assert response.status_code == 302, response.content[:2000]
    assert WidgetSettings.objects.get(tenant=tenant).anonymize_others is True
    board = text(get("/widgets/leaderboard", token_for(agent)))
    assert "Bo Chen" not in board


# --- server-sent events (the prototype bench/widgets.py measures against polling) ---------
def test_the_card_as_server_sent_events(played, tenant):
    """The stream sends the live region at once, then again when the agent's points move;
    the same token rules as the pages (a tampered token gets the 401 page)."""
    from gamify.widgets import versions

    response = Client().get("/widgets/agent/events", {"token": token_for(played)})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    chunks = iter(response.streaming_content)
    assert next(chunks) == b"retry: 1000\n\n"
    first = next(chunks).decode()
    assert first.startswith("id: ")
    assert "\nevent: change\n" in first
    assert re.search(r'data-testid="points-day">25<', first)
    polled = Client().get("/widgets/agent", {"token": token_for(played), "fragment": "1"})
    assert first.split("\n")[0] == "id: " + polled["ETag"].strip('"')  # the polls' ETag
    game.points_adjust(tenant=tenant, agent=played, points=7, reason="Great save", actor="t")
    versions.bump(tenant.pk, [played.pk])
    second = next(chunks).decode()  # within a second: the stream re-checks every second
    assert re.search(r'data-testid="points-day">32<', second)
    response.close()
    refused = Client().get("/widgets/agent/events", {"token": token_for(played) + "x"})
    assert refused.status_code == 401
    assert "not valid" in text(refused)


# --- live: the card's standings alone when only they moved ----------------------------------
def standing_texts(response) -> dict[str, str]:
    """The card's `data-standing` elements and their text, as the page shows them."""
    found = re.findall(r'data-standing="([^"]+)">([^<]*)<', response.content.decode())
    return dict(found)


def poll(client, token, etag=None, **params):
    headers = {"HTTP_IF_NONE_MATCH": etag} if etag else {}
    return client.get(
        "/widgets/agent", {"token": token, "fragment": "1", "patch": "1", **params}, **headers
    )


def friday_sprint(tenant):
    from gamify.contests import services as contests
    from gamify.widgets import versions

    contest = contests.contest_create(
        tenant=tenant,
        values={"name": "Friday sprint", "kind": "ranked", "entity": "agent",
                "metric": "contacts_handled", "starts_at": NOW.replace(hour=8),
                "ends_at": NOW.replace(hour=20)},
    )  # fmt: skip
    versions.bump(tenant.pk, everything=True)  # the contest saved
    return contest


def test_only_my_standings_moved_answers_them_alone(played, tenant, a2, django_assert_num_queries):
    """Bo passes Ann: her card's own part is the same, so a poll asking `patch=1` gets the new
    standings as JSON (her ranks and her contest standing, as a rendering writes them), with an
    ETag whose own part is unchanged; polling with it is a 304. Her own event is a rendering
    again, and a page not asking for patches keeps getting renderings."""
    from gamify.widgets import versions

    contest = friday_sprint(tenant)
    token = token_for(played)
    client = Client()
    first = poll(client, token)
    assert first.status_code == 200
    assert first["Content-Type"].startswith("text/html")
    assert standing_texts(first) == {
        "rank_day": "#1", "rank_week": "#1", f"contest_{contest.pk}": "You are #1"
    }  # fmt: skip
    ingest(tenant, [call("a2", NOW.replace(hour=h)) for h in (12, 13, 14)])
    versions.bump(tenant.pk, [a2.pk])  # Bo's stamp and the tenant's, as the on-commit hook
    with django_assert_num_queries(0):
        moved = poll(client, token, first["ETag"])
    assert moved.status_code == 200
    assert moved["Content-Type"] == "application/json"
    assert moved.json() == {
        "standings": {
            "rank_day": "#2", "rank_week": "#2", f"contest_{contest.pk}": "You are #2"
        }
    }  # fmt: skip
    assert moved["ETag"] != first["ETag"]
    assert moved["ETag"].split(".")[0] == first["ETag"].split(".")[0]  # her own part: the same
    assert moved["Cache-Control"] == "private, no-cache"
    assert moved["Referrer-Policy"] == "no-referrer"
    # the same standings as the rendering shows for this state, under the same ETag
    rendered = client.get("/widgets/agent", {"token": token, "fragment": "1"})
    assert rendered["ETag"] == moved["ETag"]
    assert standing_texts(rendered) == moved.json()["standings"]
    with django_assert_num_queries(0):
        same = poll(client, token, moved["ETag"])
    assert same.status_code == 304
    assert same["ETag"] == moved["ETag"]
    # a page that does not ask for patches (an older widgets.js) gets the rendering
    old = client.get(
        "/widgets/agent", {"token": token, "fragment": "1"}, HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert old.status_code == 200
    assert old["Content-Type"].startswith("text/html")
    assert re.search(r"Rank today\s+#2\b", text(old))
    # Ann's own event: the whole live region again
    ingest(tenant, [call("a1", NOW.replace(hour=14, minute=40))])
    versions.bump(tenant.pk, [played.pk])
    mine = poll(client, token, moved["ETag"])
    assert mine.status_code == 200
    assert mine["Content-Type"].startswith("text/html")
    assert re.search(r"Points today\s+35\b", text(mine))
    assert mine["ETag"].split(".")[0] != moved["ETag"].split(".")[0]


def test_standings_answer_in_persian_digits(played, tenant, a2):
    from gamify.widgets import versions

    contest = friday_sprint(tenant)
    played.locale = "fa"
    played.save()
    versions.bump(tenant.pk, everything=True)  # what the agent's save hook does
    token = token_for(played)
    client = Client()
    first = poll(client, token)
    assert standing_texts(first)["rank_day"] == "#۱"
    ingest(tenant, [call("a2", NOW.replace(hour=h)) for h in (12, 13, 14)])
    versions.bump(tenant.pk, [a2.pk])
    moved = poll(client, token, first["ETag"])
    assert moved["Content-Type"] == "application/json"
    assert moved["Content-Language"] == "fa"
    standings = moved.json()["standings"]
    assert standings == {
        "rank_day": "#۲", "rank_week": "#۲", f"contest_{contest.pk}": "شما نفر ۲ هستید"
    }  # fmt: skip
    assert "۲".encode() in moved.content  # written as it is, not as \u escapes
    assert not re.search(rb"[0-9]", moved.content.replace(str(contest.pk).encode(), b""))
    # the same poll in English (another page state): English digits and words
    english = poll(client, token, lang="en")
    assert standing_texts(english)[f"contest_{contest.pk}"] == "You are #2"


def test_standings_answer_names_no_other_agent(played, tenant, a2):
    """Anonymized or not, a standings answer carries only the agent's own ranks: never
    another agent's name or id, nor the contest's leader."""
    from gamify.widgets import versions

    WidgetSettings.objects.create(tenant=tenant, anonymize_others=True)
    friday_sprint(tenant)
    token = token_for(played)
    client = Client()
    first = poll(client, token)
    ingest(tenant, [call("a2", NOW.replace(hour=h)) for h in (12, 13, 14)])
    versions.bump(tenant.pk, [a2.pk])
    moved = poll(client, token, first["ETag"])
    assert moved["Content-Type"] == "application/json"
    body = moved.content.decode()
    assert "Bo Chen" not in body
    assert not re.search(r"\ba2\b", body)
    assert "Ann Lee" not in body  # not even her own name: only standings
    assert set(moved.json()) == {"standings"}


def test_a_stale_or_foreign_etag_gets_the_rendering(played, tenant, a2):
    """Only an ETag of this card's own part gets a standings answer: any other (a garbled
    one, another language's page) gets the live region rendered."""
    token = token_for(played)
    client = Client()
    first = poll(client, token)
    for etag in ('"nonsense"', first["ETag"][:-3] + 'x"', '"' + "0" * 18 + "." + "0" * 12 + '"'):
        answer = poll(client, token, etag)
        assert answer.status_code == 200
        assert answer["Content-Type"].startswith("text/html"), etag
        assert answer["ETag"] == first["ETag"]
    persian = poll(client, token, first["ETag"], lang="fa")
    assert persian["Content-Type"].startswith("text/html")
    assert "امتیاز امروز" in text(persian)
