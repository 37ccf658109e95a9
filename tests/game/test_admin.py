"""Managers edit the game in the Django admin through the same services as the API: saving a
rule recomputes open periods exactly as PATCH does, bad input is a form error (never a 500),
and another tenant's managers see nothing of it."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Membership
from gamify.game import services
from gamify.game.models import Badge, Level, PointAward, PointRule
from kpis.services.catalogue import kpi_create
from tests.game.support import call, day_points, ingest, local

pytestmark = pytest.mark.django_db

RULES = "/admin/game/pointrule/"
D = "2026-11-10"


@pytest.fixture
def staff():
    def make(tenant, role="manager", name=None):
        user = get_user_model().objects.create_user(
            name or f"{role}-{tenant.slug}", password="pw-123456789", is_staff=True
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


@pytest.fixture
def rule(tenant, agent):
    rule = services.point_rule_create(
        tenant=tenant,
        values={"name": "Per contact", "kpi": "contacts_handled", "kind": "per_unit", "points": 10},
    )
    ingest(tenant, [call("a1", local(D, h)) for h in (9, 10, 11)])
    assert day_points(agent) == {D: 30}  # 3 × 10
    return rule


def form(rule_or_tenant, **changes):
    if isinstance(rule_or_tenant, PointRule):
        rule = rule_or_tenant
        values = {
            "tenant": rule.tenant_id,
            "name": rule.name,
            "kpi": rule.kpi,
            "kind": rule.kind,
            "points": rule.points,
            "period": rule.period,
            "op": rule.op,
            "threshold": rule.threshold if rule.threshold is not None else "",
            "lower": rule.lower if rule.lower is not None else "",
            "upper": rule.upper if rule.upper is not None else "",
            "min_volume": rule.min_volume,
            "cap": rule.cap if rule.cap is not None else "",
            "active": "on" if rule.active else "",
        }
    else:
        values = {
            "tenant": rule_or_tenant.pk,
            "name": "",
            "kpi": "",
            "kind": "per_unit",
            "points": "",
            "period": "day",
            "op": "",
            "threshold": "",
            "lower": "",
            "upper": "",
            "min_volume": "0",
            "cap": "",
            "active": "on",
        }
    values.update(changes)
    return {k: v for k, v in values.items() if v != "" or k != "active"}


def test_editing_a_rule_in_the_admin_recomputes_open_periods(
    client, commit, staff, tenant, agent, rule
):
    client.force_login(staff(tenant))
    page = client.get(f"{RULES}{rule.pk}/change/")
    assert page.status_code == 200
    response = commit(lambda: client.post(f"{RULES}{rule.pk}/change/", form(rule, points=4)))
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert rule.points == 4
    assert day_points(agent) == {D: 12}  # 3 × 4, exactly as PATCH would give
    # a cap, then a deactivation
    commit(lambda: client.post(f"{RULES}{rule.pk}/change/", form(rule, cap=5)))
    assert day_points(agent) == {D: 5}
    data = form(rule, cap=5)
    data.pop("active")  # an unchecked checkbox is absent from the POST
    commit(lambda: client.post(f"{RULES}{rule.pk}/change/", data))
    rule.refresh_from_db()
    assert rule.active is False
    assert day_points(agent) == {}


def test_adding_a_rule_in_the_admin_counts_past_events(client, commit, staff, tenant, agent):
    ingest(tenant, [call("a1", local(D, h)) for h in (9, 10)])
    client.force_login(staff(tenant))
    data = form(
        tenant, name="Target", kpi="contacts_handled", kind="target", points="15", threshold="2"
    )
    response = commit(lambda: client.post(f"{RULES}add/", data))
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = PointRule.objects.get()
    assert rule.op == ">="  # defaulted from the KPI's direction by the service
    assert day_points(agent) == {D: 15}  # 2 contacts ≥ 2 → 15


def test_deleting_a_rule_without_awards_in_the_admin(client, commit, staff, tenant):
    rule = services.point_rule_create(
        tenant=tenant, values={"name": "Unused", "kpi": "fcr", "kind": "per_unit", "points": 1}
    )
    client.force_login(staff(tenant))
    response = commit(lambda: client.post(f"{RULES}{rule.pk}/delete/", {"post": "yes"}))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.deleted  # retired through the service (kept as history), not removed


def test_deleting_a_rule_in_the_admin_removes_open_points(
    client, commit, staff, tenant, agent, rule
):
    client.force_login(staff(tenant))
    response = commit(lambda: client.post(f"{RULES}{rule.pk}/delete/", {"post": "yes"}))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.deleted
    assert not PointAward.objects.exists()
    assert day_points(agent) == {}
    # gone from the list (the page may still say it "was deleted successfully")
    assert f"{RULES}{rule.pk}/change/" not in client.get(RULES).content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kpi": "happiness"}, "happiness is not one of the available choices"),
        ({"kind": "scaled", "kpi": "aht", "lower": "300", "upper": "420"}, "better side"),
        ({"kind": "scaled", "kpi": "aht", "lower": "420"}, "needs lower and upper"),
        ({"kind": "target"}, "needs a threshold"),
        ({"points": "-3"}, "greater than or equal to 0"),
        ({"points": "ten"}, "whole number"),
        ({"op": ">"}, "valid choice"),
    ],
)
def test_an_invalid_rule_is_a_form_error(
    client, commit, staff, tenant, agent, rule, changes, message
):
    client.force_login(staff(tenant))
    response = commit(lambda: client.post(f"{RULES}{rule.pk}/change/", form(rule, **changes)))
    assert response.status_code == 200  # the form again, not a 500
    assert message in response.content.decode()
    rule.refresh_from_db()
    assert (rule.kind, rule.kpi, rule.points) == ("per_unit", "contacts_handled", 10)
    assert day_points(agent) == {D: 30}


def test_managers_of_another_tenant_cannot_see_or_edit(
    client, commit, staff, outsider, tenant, rule
):
    client.force_login(staff(outsider))
    assert "Per contact" not in client.get(RULES).content.decode()
    assert client.get(f"{RULES}{rule.pk}/change/").status_code == 302  # "does not exist"
    commit(lambda: client.post(f"{RULES}{rule.pk}/change/", form(rule, points=1)))
    commit(lambda: client.post(f"{RULES}{rule.pk}/delete/", {"post": "yes"}))
    rule.refresh_from_db()
    assert (rule.points, rule.deleted) == (10, False)
    # nor create one for a tenant that is not theirs
    response = client.post(f"{RULES}add/", form(tenant, name="Sneaky", kpi="fcr", points="1"))
    assert response.status_code == 200
    assert not PointRule.objects.filter(name="Sneaky").exists()


def test_viewers_cannot_edit(client, staff, tenant, rule):
    client.force_login(staff(tenant, role="viewer"))
    assert client.get(RULES).status_code == 200
    assert client.post(f"{RULES}{rule.pk}/change/", form(rule, points=1)).status_code == 403
    rule.refresh_from_db()
    assert rule.points == 10


# --- badges and levels in the admin ---------------------------------------------------------
CRITERIA = (
    "kpi",
    "op",
    "threshold",
    "period",
    "min_volume",
    "count",
    "length",
    "points",
    "rank",
    "contest",
)


def badge_form(tenant, criteria=None, **changes):
    """The add form's POST; `criteria` as the API takes it, spread over the criteria fields."""
    if criteria is None:
        criteria = {
            "kind": "streak",
            "kpi": "adherence",
            "threshold": 95,
            "period": "day",
            "length": 5,
        }
    values = {
        "tenant": tenant.pk,
        "code": "steady",
        "name": "Steady",
        "description": "",
        "icon": "🏅",
        "coins": "10",
        "active": "on",
        "kind": criteria["kind"],
        **{f"criteria_{name}": str(criteria.get(name, "")) for name in CRITERIA},
    }
    values.update(changes)
    return values


def field_errors(response, name):
    """The messages the admin shows on one field (its errorlist)."""
    page = response.content.decode()
    found = re.search(rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', page, re.S)
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", found[1])] if found else []


def options(page, select_name):
    found = re.search(rf'<select name="{re.escape(select_name)}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no <select name={select_name!r}> on the page"
    return dict(re.findall(r'<option value="([^"]*)"[^>]*>(.*?)</option>', found[1]))


def test_manager_adds_a_badge_through_the_service(client, commit, staff, tenant):
    client.force_login(staff(tenant))
    response = commit(lambda: client.post("/admin/game/badge/add/", badge_form(tenant)))
    assert response.status_code == 302, response.content.decode()[:3000]
    badge = Badge.objects.get()
    assert badge.criteria["op"] == ">="  # filled in by the same validation as the API
    missing = {"kind": "streak", "kpi": "adherence", "threshold": 95, "period": "day"}
    response = client.post(
        "/admin/game/badge/add/", badge_form(tenant, code="x2", criteria=missing)
    )
    assert response.status_code == 200
    assert field_errors(response, "criteria_length") == ["This field is required."]
    assert Badge.objects.count() == 1


@pytest.mark.parametrize("code", ["Steady", "s"])
def test_a_badge_code_the_service_refuses_is_a_form_error(client, staff, tenant, code):
    client.force_login(staff(tenant))
    response = client.post("/admin/game/badge/add/", badge_form(tenant, code=code))
    assert response.status_code == 200
    assert not Badge.objects.exists()


def test_a_bad_level_is_a_form_error(client, staff, tenant):
    services.levels_replace(
        tenant=tenant,
        levels=[
            {"number": 1, "name": "A", "min_points": 0},
            {"number": 2, "name": "B", "min_points": 100},
        ],
    )
    client.force_login(staff(tenant))
    data = {"tenant": tenant.pk, "number": "3", "name": "C", "min_points": "50"}
    response = client.post("/admin/game/level/add/", data)
    assert response.status_code == 200
    assert Level.objects.filter(tenant=tenant).count() == 2


def test_game_admin_pages_render(client, staff, tenant, agent, rule):
    client.force_login(staff(tenant))
    for url in (
        RULES,
        f"{RULES}add/",
        f"{RULES}{rule.pk}/change/",
        "/admin/game/badge/",
        "/admin/game/level/",
        "/admin/game/pointaward/",
        "/admin/game/badgeaward/",
        "/admin/game/periodclose/",
    ):
        assert client.get(url).status_code == 200, url


@pytest.fixture
def catalogues(tenant, outsider):
    """A custom KPI in each tenant."""
    for t, code in ((tenant, "upsells"), (outsider, "their_kpi")):
        kpi_create(
            tenant=t,
            code=code,
            name=code.title(),
            unit="count",
            direction="higher_is_better",
            aggregation="sum",
            min_volume=Decimal(0),
        )


@pytest.mark.parametrize(
    ("url", "select"), [(f"{RULES}add/", "kpi"), ("/admin/game/badge/add/", "criteria_kpi")]
)
def test_kpis_are_chosen_from_the_tenants_catalogue(client, staff, tenant, catalogues, url, select):
    client.force_login(staff(tenant))
    offered = options(client.get(url).content.decode(), select)
    assert offered["aht"] == "Average handle time (aht)"
    assert offered["upsells"] == "Upsells (upsells)"
    assert "their_kpi" not in offered  # another tenant's
    assert "turnover" not in offered  # measured for teams only: no agent earns on it


def test_a_rule_on_a_custom_kpi_picked_from_the_list(client, commit, staff, tenant, catalogues):
    client.force_login(staff(tenant))
    data = form(tenant, name="Upsell", kpi="upsells", kind="per_unit", points="3")
    response = commit(lambda: client.post(f"{RULES}add/", data))
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = PointRule.objects.get()
    assert (rule.kpi, rule.points) == ("upsells", 3)
    page = client.get(f"{RULES}{rule.pk}/change/").content.decode()
    assert '<option value="upsells" selected>' in page


def test_a_badge_edited_field_by_field(client, commit, staff, tenant):
    client.force_login(staff(tenant))
    commit(lambda: client.post("/admin/game/badge/add/", badge_form(tenant)))
    badge = Badge.objects.get()
    assert badge.criteria == {
        "kind": "streak",
        "kpi": "adherence",
        "op": ">=",
        "threshold": 95.0,
        "period": "day",
        "length": 5,
        "min_volume": 0.0,
    }
    page = client.get(f"/admin/game/badge/{badge.pk}/change/").content.decode()
    assert '<option value="streak" selected>' in page
    assert '<option value="adherence" selected>' in page
    assert 'name="criteria_length" value="5"' in page
    criteria = {
        "kind": "streak",
        "kpi": "adherence",
        "threshold": 90,
        "period": "week",
        "length": 3,
    }
    response = commit(
        lambda: client.post(f"/admin/game/badge/{badge.pk}/change/", badge_form(tenant, criteria))
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    badge.refresh_from_db()
    assert (badge.criteria["threshold"], badge.criteria["period"], badge.criteria["length"]) == (
        90.0,
        "week",
        3,
    )


@pytest.mark.parametrize(
    ("criteria", "field", "message"),
    [
        (
            {"kind": "streak", "kpi": "adherence", "threshold": 95, "period": "month", "length": 5},
            "criteria_period",
            "Must be one of day, week.",
        ),
        (
            {"kind": "streak", "kpi": "adherence", "threshold": 95, "period": "day", "length": 1},
            "criteria_length",
            "A whole number from 2 to 366.",
        ),
        (
            {"kind": "count", "kpi": "contacts_handled", "count": 10, "threshold": 3},
            "criteria_threshold",
            "Not a field of count criteria.",
        ),
        ({"kind": "points", "points": "many"}, "criteria_points", "Enter a whole number."),
        (
            {"kind": "count", "kpi": "their_kpi", "count": 10},
            "criteria_kpi",
            "Select a valid choice. their_kpi is not one of the available choices.",
        ),
    ],
)
def test_a_bad_criterion_is_an_error_on_its_field(
    client, staff, tenant, catalogues, criteria, field, message
):
    client.force_login(staff(tenant))
    response = client.post("/admin/game/badge/add/", badge_form(tenant, criteria))
    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    assert not Badge.objects.exists()
