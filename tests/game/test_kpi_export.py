"""The admin's CSV export of every agent's KPIs and points over a period: streamed, bounded
in memory and queries for 10,000 agents, and the same figures as the API's reads."""

from __future__ import annotations

import csv
import io
import tracemalloc
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from accounts.models import Agent, Membership
from accounts.services import agent_upsert, team_upsert
from gamify.game.exports import export_period, kpi_points_rows
from gamify.game.models import AgentDayPoints
from kpis.models import AgentDay
from kpis.services.catalogue import kpi_create
from tests.game.support import call, ingest, local, make_rule, metric, survey

pytestmark = pytest.mark.django_db

EXPORT = "/admin/accounts/agent/export/"
NOW = datetime(2026, 11, 19, 7, 0, tzinfo=UTC)  # Thursday 15:00 in Shanghai


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff():
    def make(tenant, role="manager"):
        user = get_user_model().objects.create_user(
            f"{role}-{tenant.slug}-{uuid.uuid4().hex[:6]}", password="pw-123456789", is_staff=True
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


def read_csv(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[arg-type]
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def floor(tenant, agent, team):
    """Three agents (one in a sub-team) with calls, surveys, a custom KPI and points."""
    team_upsert(tenant=tenant, external_id="t1a", name="Sub", parent_external_id="t1")
    team_upsert(tenant=tenant, external_id="t2", name="Other", parent_external_id=None)
    agent_upsert(tenant=tenant, external_id="a2", display_name="Bo Chen", team_external_id="t1a")
    agent_upsert(tenant=tenant, external_id="a3", display_name="=cmd|' /C calc'!A0",
                 team_external_id="t2")  # fmt: skip
    kpi_create(
        tenant=tenant,
        code="upsell",
        name="Upsell",
        unit="percent",
        direction="higher_is_better",
        aggregation="ratio",
        min_volume=Decimal(0),
    )
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=10)
    ingest(
        tenant,
        [
            call("a1", local("2026-11-16", 9), talk=100),
            call("a1", local("2026-11-17", 9), talk=200),
            survey("a1", local("2026-11-17", 10), csat=5),
            survey("a1", local("2026-11-17", 11), csat=2),
            metric("a1", local("2026-11-17", 12), "upsell", 1),
            metric("a1", local("2026-11-17", 13), "upsell", 0),
            metric("a1", local("2026-11-17", 14), "upsell", 1),
            call("a2", local("2026-11-18", 9), talk=90),
            call("a2", local("2026-11-10", 9), talk=30),  # last week
            call("a3", local("2026-11-15", 23, 30)),  # Sunday: last week
        ],
    )


def api_row(api, external_id, query):
    body = api.get(f"/api/v1/agents/{external_id}/kpis", query).json()
    return body["kpis"]


@pytest.mark.parametrize(
    ("form", "query", "point_days"),
    [
        ({"period": "week", "date": "2026-11-18"}, {"period": "week", "date": "2026-11-18"},
         ("2026-11-16", "2026-11-23")),
        ({"period": "month"}, {"period": "month", "date": "2026-11-19"},
         ("2026-11-01", "2026-12-01")),
        ({"period": "custom", "date": "2026-11-10", "end_date": "2026-11-17"},
         {"start": "2026-11-10T00:00:00+08:00", "end": "2026-11-18T00:00:00+08:00"},
         ("2026-11-10", "2026-11-18")),
        ({"period": "all"}, {"period": "all"}, (None, None)),
    ],
)  # fmt: skip
def test_the_export_has_the_apis_figures(
    client, staff, api, tenant, floor, form, query, point_days
):
    client.force_login(staff(tenant, "viewer"))
    response = client.get(EXPORT, {"tenant": tenant.pk, **form})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="kpis-acme-')
    rows = read_csv(response)
    assert [r["agent"] for r in rows] == ["a1", "a2", "a3"]
    first, after = point_days
    for row in rows:
        kpis = api_row(api, row["agent"], query)
        assert "turnover" not in row  # a team KPI
        for code, value in kpis.items():
            expected = "" if value["value"] is None else str(value["value"])
            assert row[code] == expected, (row["agent"], code)
            assert row[f"{code}_volume"] == str(value["volume"]), (row["agent"], code)
        points = AgentDayPoints.objects.filter(agent__external_id=row["agent"])
        if first:
            points = points.filter(day__gte=first, day__lt=after)
        assert int(row["points"]) == sum(points.values_list("points", flat=True))


def test_the_week_by_hand(client, staff, tenant, floor):
    client.force_login(staff(tenant))
    rows = {
        r["agent"]: r for r in read_csv(client.get(EXPORT, {"tenant": tenant.pk, "period": "week"}))
    }
    a1, a2, a3 = rows["a1"], rows["a2"], rows["a3"]
    assert (a1["display_name"], a1["team"], a1["active"]) == ("Ann Lee", "t1", "true")
    assert (a1["contacts_handled"], a1["aht"], a1["points"]) == ("2.0", "150.0", "20")
    assert (a1["csat"], a1["csat_volume"]) == ("50.0", "2")  # 1 of 2 surveys in the top two
    assert (a1["upsell"], a1["upsell_volume"]) == ("66.67", "3")
    assert (a2["contacts_handled"], a2["points"]) == ("1.0", "10")
    # nothing this week: no volume, so no value (as the API's null)
    assert (a3["contacts_handled"], a3["aht"], a3["points"]) == ("", "", "0")
    # a spreadsheet does not run a name as a formula
    assert a3["display_name"] == "'=cmd|' /C calc'!A0"


def test_the_team_filter_keeps_the_team_and_its_sub_teams(client, staff, tenant, floor, team):
    client.force_login(staff(tenant))
    rows = read_csv(client.get(EXPORT, {"tenant": tenant.pk, "period": "week", "team": team.pk}))
    assert [r["agent"] for r in rows] == ["a1", "a2"]


def test_the_form_and_its_errors_name_the_field(client, staff, tenant, agent):
    client.force_login(staff(tenant))
    page = client.get(EXPORT)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="period"' in html
    assert 'name="team"' in html
    assert "Download CSV" in html
    assert "Export KPIs and points (CSV)" in client.get("/admin/accounts/agent/").content.decode()
    bad = client.get(EXPORT, {"tenant": tenant.pk, "period": "custom", "date": "2026-11-10"})
    assert bad.status_code == 400
    assert "A date range needs its last day." in bad.content.decode()
    backwards = {"tenant": tenant.pk, "period": "custom", "date": "2026-11-10",
                 "end_date": "2026-11-01"}  # fmt: skip
    assert "Must not be before the first day." in client.get(EXPORT, backwards).content.decode()
    nonsense = client.get(EXPORT, {"tenant": tenant.pk, "period": "fortnight", "date": "x"})
    assert nonsense.status_code == 400
    html = nonsense.content.decode()
    assert "Select a valid choice" in html
    assert "Enter a valid date" in html


def test_another_tenants_manager_exports_nothing_of_this_one(
    client, staff, tenant, outsider, floor, team
):
    client.force_login(staff(outsider))
    assert client.get(EXPORT, {"tenant": tenant.pk, "period": "week"}).status_code == 404
    assert client.get(EXPORT, {"tenant": outsider.pk, "team": team.pk}).status_code == 404
    rows = read_csv(client.get(EXPORT, {"tenant": outsider.pk, "period": "all"}))
    assert rows == []  # their own tenant has no agents; ours never show
    page = client.get(EXPORT).content.decode()
    assert "Acme Support" not in page
    assert "Tier 1" not in page


def test_someone_without_a_tenant_gets_no_export(client, tenant, agent):
    user = get_user_model().objects.create_user("nobody", password="pw-123456789", is_staff=True)
    client.force_login(user)
    assert client.get(EXPORT, {"tenant": tenant.pk, "period": "week"}).status_code == 403


# --- 10,000 agents -------------------------------------------------------------------------
def populate(tenant, prefix: str, count: int) -> None:
    """`count` agents, each with a day of calls and a day of points this week (bulk rows)."""
    agents = Agent.objects.bulk_create(
        [Agent(tenant=tenant, external_id=f"{prefix}-{n:05d}", display_name=f"Agent {n}")
         for n in range(count)],
        batch_size=2000,
    )  # fmt: skip
    AgentDay.objects.bulk_create(
        [AgentDay(tenant=tenant, agent_id=a.pk, day=date(2026, 11, 17), events=2, attempts=2,
                  offered=2, answered=2, handle_ms=240_000, talk_ms=240_000)
         for a in agents],
        batch_size=2000,
    )  # fmt: skip
    AgentDayPoints.objects.bulk_create(
        [AgentDayPoints(tenant=tenant, agent_id=a.pk, day=date(2026, 11, 18), points=7)
         for a in agents],
        batch_size=2000,
    )  # fmt: skip


def consume(tenant, when, chunk=1000) -> tuple[int, int, int, list[str]]:
    """(rows, queries, peak traced bytes, last row) of streaming the export."""
    count, last = 0, []
    tracemalloc.start()
    try:
        with CaptureQueriesContext(connection) as queries:
            for row in kpi_points_rows(tenant=tenant, when=when, chunk=chunk):
                count += 1
                last = row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, len(queries.captured_queries), peak, last


def test_ten_thousand_agents_stream_in_bounded_memory_and_queries(tenant, settings):
    settings.DEBUG = False
    when = export_period(tenant=tenant, kind="week", day=date(2026, 11, 19))
    populate(tenant, "bulk", 2_000)
    small_rows, small_queries, small_peak, _ = consume(tenant, when)
    populate(tenant, "more", 8_000)
    rows, queries, peak, last = consume(tenant, when)
    assert rows == 10_001  # the header and every agent
    assert small_rows == 2_001
    # Four queries per chunk of 1,000 agents, plus the catalogue and the end: not per agent.
    assert queries <= 4 * 10 + 6, queries
    assert small_queries <= 4 * 2 + 6
    # Memory is one chunk's, not the export's: five times the agents, not five times the peak.
    assert peak < 2 * small_peak, (peak, small_peak)
    # and the measure tells: all 10,000 in one chunk peaks far higher
    _, _, whole_peak, _ = consume(tenant, when, chunk=100_000)
    assert whole_peak > 3 * peak, (whole_peak, peak)
    header = next(kpi_points_rows(tenant=tenant, when=when))
    row = dict(zip(header, last, strict=True))
    assert (row["agent"], row["contacts_handled"], row["aht"], row["points"]) == (
        "more-07999",
        "2.0",
        "120.0",
        "7",
    )
