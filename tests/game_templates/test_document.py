"""Game templates: export → import into an empty tenant → the same document; the whole
document is checked first, errors name their path, and a bad document changes nothing."""

from __future__ import annotations

import copy
import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Tenant
from accounts.services import tenant_create
from gamify.coaching.models import AlertRule
from gamify.contests.models import Contest
from gamify.game.models import Badge, Level, PointRule
from gamify.game_templates.document import bundled_document, game_export
from gamify.wallet.models import Reward
from kpis.models import Kpi

pytestmark = pytest.mark.django_db


def counts(tenant: Tenant) -> dict[str, int]:
    return {
        "rules": PointRule.objects.for_tenant(tenant).count(),
        "levels": Level.objects.for_tenant(tenant).count(),
        "badges": Badge.objects.for_tenant(tenant).count(),
        "rewards": Reward.objects.for_tenant(tenant).count(),
        "contests": Contest.objects.for_tenant(tenant).filter(status="draft").count(),
        "kpis": Kpi.objects.for_tenant(tenant).count(),
        "alert_rules": AlertRule.objects.for_tenant(tenant).count(),
    }


EMPTY = {
    "rules": 0,
    "levels": 0,
    "badges": 0,
    "rewards": 0,
    "contests": 0,
    "kpis": 0,
    "alert_rules": 0,
}


def test_create_tenant_from_the_contact_center_starter(capsys):
    call_command("create_tenant", "--name", "Starter Co", "--template", "starter", "--json")
    slug = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["tenant"]
    tenant = Tenant.objects.get(slug=slug)
    assert counts(tenant) == {
        "rules": 6,
        "levels": 5,
        "badges": 5,
        "rewards": 4,
        "contests": 1,
        "kpis": 2,
        "alert_rules": 2,
    }
    contest = Contest.objects.get(tenant=tenant)
    assert contest.recurrence == "weekly"
    assert contest.prizes[0]["badge"] == "contest-champion"
    # The bundled file is written as export writes it: the tenant exports it back as it is.
    assert game_export(tenant=tenant) == bundled_document("starter")


def test_an_unknown_template_is_refused_and_no_tenant_made():
    with pytest.raises(CommandError, match="No template 'nope'"):
        call_command("create_tenant", "--name", "Nope", "--template", "nope")
    assert not Tenant.objects.filter(name="Nope").exists()


def test_export_import_into_an_empty_tenant_export_gives_the_same_document(
    api, tenant, outsider_api, outsider
):
    assert (
        api.post("/api/v1/game/import", bundled_document("starter"), format="json").status_code
        == 200
    )
    # More than the starter holds: a custom KPI and a rule on it, changed settings.
    created = api.post(
        "/api/v1/kpis",
        {
            "code": "upsells",
            "name": "Upsells",
            "unit": "count",
            "direction": "higher_is_better",
            "aggregation": "sum",
            "min_volume": 0,
        },
        format="json",
    )
    assert created.status_code == 201
    rule = api.post(
        "/api/v1/point-rules",
        {
            "name": "10 points per upsell",
            "kpi": "upsells",
            "kind": "per_unit",
            "points": 10,
            "period": "day",
        },
        format="json",
    )
    assert rule.status_code == 201
    assert (
        api.patch(
            "/api/v1/kpis/service_level", {"threshold_seconds": 30}, format="json"
        ).status_code
        == 200
    )
    alert = api.post(
        "/api/v1/alert-rules",
        {"name": "Upsell star", "kind": "exceeds", "kpi": "upsells", "percent": 12.5,
         "periods": 3, "period": "week", "min_volume": 4, "cooldown_minutes": 60},
        format="json",
    )  # fmt: skip
    assert alert.status_code == 201, alert.content
    first = api.get("/api/v1/game/export").json()
    assert first["alert_rules"][-1] == {
        "name": "Upsell star", "kind": "exceeds", "basis": "team_average", "kpi": "upsells",
        "percent": 12.5, "periods": 3, "period": "week", "min_volume": 4,
        "cooldown_minutes": 60, "active": True,
    }  # fmt: skip
    assert [k["code"] for k in first["kpis"]] == ["csat", "fcr", "upsells"]
    assert first["interaction_settings"]["threshold_seconds"] == 30

    assert counts(outsider) == EMPTY
    imported = outsider_api.post("/api/v1/game/import", first, format="json")
    assert imported.status_code == 200, imported.json()
    assert imported.json()["imported"]["point_rules"] == 7
    again = outsider_api.get("/api/v1/game/export").json()
    assert again == first
    # Importing it again changes nothing: items are matched, not duplicated.
    assert outsider_api.post("/api/v1/game/import", first, format="json").status_code == 200
    assert outsider_api.get("/api/v1/game/export").json() == first
    assert counts(outsider)["rules"] == 7
    assert counts(outsider)["alert_rules"] == 3


def test_an_unknown_kpi_is_a_400_naming_its_path_and_nothing_is_applied(api, tenant):
    document = copy.deepcopy(bundled_document("starter"))
    document["point_rules"][2]["kpi"] = "handle_speed"
    document["badges"][1]["criteria"]["kpi"] = "smiles"
    document["rewards"][0]["cost"] = -5
    response = api.post("/api/v1/game/import", document, format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert "point_rules[2].kpi" in errors
    assert "handle_speed" in errors["point_rules[2].kpi"][0]
    assert "badges[1].criteria.kpi" in errors
    assert any(path.startswith("rewards[0]") for path in errors)
    assert counts(tenant) == EMPTY  # one transaction: nothing of the valid parts either


def test_structure_errors_name_the_section_or_field(api):
    bad = {"format": "gamify.game/0", "point_rules": {}, "alert_rulez": []}
    errors = api.post("/api/v1/game/import", bad, format="json").json()["errors"]
    assert set(errors) == {"format", "point_rules", "alert_rulez"}
    doc = {
        "format": "gamify.game/1",
        "levels": [{"number": 1, "name": "A", "min_points": 5}],
        "rewards": [{"name": "X", "cost": 1, "colour": "red"}],
        "contest_templates": [
            {
                "name": "C",
                "kind": "ranked",
                "entity": "agent",
                "metric": "fcr",
                "window": "fortnight",
            }
        ],
    }
    errors = api.post("/api/v1/game/import", doc, format="json").json()["errors"]
    assert "rewards[0].colour" in errors
    assert "contest_templates[0].window" in errors
    assert any(path.startswith("levels") for path in errors)


def test_the_game_api_needs_manage(tenant, make_client):
    reader = make_client(tenant, scopes=("read",))
    assert reader.get("/api/v1/game/export").status_code == 403
    assert reader.post("/api/v1/game/import", {}, format="json").status_code == 403


def test_export_and_import_commands(tenant, outsider, tmp_path, capsys):
    call_command("import_game", "--tenant", tenant.slug, str(_starter_file(tmp_path)))
    out = tmp_path / "acme.json"
    call_command("export_game", "--tenant", tenant.slug, "--output", str(out))
    call_command("import_game", "--tenant", outsider.slug, str(out))
    assert "Imported into outsider" in capsys.readouterr().out
    assert game_export(tenant=outsider) == json.loads(out.read_text())
    bad = json.loads(out.read_text())
    bad["point_rules"][0]["kpi"] = "nope"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(bad))
    empty = tenant_create(name="Empty", timezone_name="UTC", slug="empty")
    with pytest.raises(CommandError, match=r"point_rules\[0\]\.kpi"):
        call_command("import_game", "--tenant", empty.slug, str(broken))
    assert counts(empty) == EMPTY


def _starter_file(tmp_path):
    path = tmp_path / "starter.json"
    path.write_text(json.dumps(bundled_document("starter")))
    return path


def test_a_rule_named_by_a_non_string_is_refused_by_path_never_a_500(api, tenant):
    """Found by the hypothesis test once the audit log recorded template imports: a name
    that is not a string reached the audit entry's description and raised."""
    document = copy.deepcopy(bundled_document("starter"))
    document["point_rules"][0]["name"] = {"not": "a name"}
    answer = api.post("/api/v1/game/import", document, format="json")
    assert answer.status_code in (200, 400), answer.content
    if answer.status_code == 400:
        assert any(path.startswith("point_rules[0]") for path in answer.json()["errors"])
    assert counts(tenant)["rules"] in (0, 6)


def test_bad_types_in_every_section_are_a_400_naming_the_path(api, tenant):
    """Each item is type-checked as the API's serializer for the same object declares it:
    a name that is not a string, points as a string, a flag as a number… each is named by
    its path, and nothing at all is applied."""
    document = copy.deepcopy(bundled_document("starter"))
    document["point_rules"][0]["name"] = {"not": "a name"}
    document["point_rules"][1]["points"] = "10"
    document["point_rules"][2]["active"] = 1
    document["badges"][0]["name"] = 7
    document["badges"][1]["coins"] = 2.5
    document["rewards"][0]["cost"] = True
    document["levels"][1]["min_points"] = "100"
    document["kpis"] = [
        {"code": 5},
        {"code": "aht", "min_volume": "3"},
        {"code": "x", "custom": "yes"},
    ]
    document["interaction_settings"] = {"threshold_seconds": "20"}
    document["contest_templates"][0]["metric"] = ["points"]
    document["alert_rules"] = [{"name": "Slow", "kind": "behind", "kpi": "aht", "periods": "2"}]
    response = api.post("/api/v1/game/import", document, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert errors == {
        "point_rules[0].name": ["Must be a string."],
        "point_rules[1].points": ["Must be a whole number."],
        "point_rules[2].active": ["Must be true or false."],
        "badges[0].name": ["Must be a string."],
        "badges[1].coins": ["Must be a whole number."],
        "rewards[0].cost": ["Must be a whole number."],
        "levels[1].min_points": ["Must be a whole number."],
        "kpis[0].code": ["Must be a string."],
        "kpis[1].min_volume": ["Must be a number."],
        "kpis[2].custom": ["Must be true or false."],
        "interaction_settings.threshold_seconds": ["Must be a whole number."],
        "contest_templates[0].metric": ["Must be a string."],
        "alert_rules[0].periods": ["Must be a whole number."],
    }
    assert counts(tenant) == EMPTY


def test_the_same_items_with_the_right_types_import(api, tenant):
    """The contrast: the same sections with the types the API takes import."""
    document = copy.deepcopy(bundled_document("starter"))
    document["kpis"] = [{"code": "aht", "min_volume": 3}]
    document["interaction_settings"] = {"threshold_seconds": 20}
    document["alert_rules"] = [{"name": "Slow", "kind": "behind", "kpi": "aht", "periods": 2}]
    response = api.post("/api/v1/game/import", document, format="json")
    assert response.status_code == 200, response.content
    assert AlertRule.objects.get(tenant=tenant).periods == 2
    assert counts(tenant)["rules"] == len(document["point_rules"])
