"""The KPI catalogue: GET/PATCH/POST /kpis, settings that recompute buckets, custom metric KPIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.core.management import call_command

from config.celery import app
from kpis.models import Kpi
from kpis.tasks import recompute_tenant
from tests.helpers import problem

pytestmark = pytest.mark.django_db

WHEN = "2026-11-20T09:15:00+08:00"
DAY = "2026-11-20"

# DESIGN.md §4: code → (unit, direction); None where the design leaves the unit open.
UP, DOWN = "higher_is_better", "lower_is_better"
BUILTINS = {
    "fcr": ("percent", UP),
    "aht": ("seconds", DOWN),
    "talk_time": ("seconds", DOWN),
    "hold_time": ("seconds", DOWN),
    "acw": ("seconds", DOWN),
    "asa": ("seconds", DOWN),
    "queue_time": ("seconds", DOWN),
    "abandon_rate": ("percent", DOWN),
    "service_level": ("percent", UP),
    "blocked_rate": ("percent", DOWN),
    "transfer_rate": ("percent", DOWN),
    "contacts_handled": ("count", UP),
    "csat": ("percent", UP),
    "csat_avg": (None, UP),
    "nps": (None, UP),
    "ces": (None, DOWN),
    "qa_score": (None, UP),
    "adherence": ("percent", UP),
    "save_rate": ("percent", UP),
    "turnover": ("percent", DOWN),
}


def post_events(client, events):
    response = client.post("/api/v1/events", {"events": events}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["rejected"] == [], response.json()
    return response.json()


def interaction(event_id: str, **fields) -> dict:
    return {
        "event_id": event_id, "type": "interaction", "occurred_at": WHEN, "agent": "a1",
        **fields,
    }  # fmt: skip


def metric(event_id: str, kpi: str, value: float, **fields) -> dict:
    return {
        "event_id": event_id, "type": "metric", "occurred_at": WHEN, "agent": "a1",
        "kpi": kpi, "value": value, **fields,
    }  # fmt: skip


def kpis(client, subject: str = "agents/a1") -> dict:
    response = client.get(f"/api/v1/{subject}/kpis", {"period": "day", "date": DAY})
    assert response.status_code == 200, response.content
    return response.json()["kpis"]


def patch(client, code: str, body):
    return client.patch(f"/api/v1/kpis/{code}", body, format="json")


def catalogue(client) -> dict[str, dict]:
    response = client.get("/api/v1/kpis")
    assert response.status_code == 200, response.content
    return {k["code"]: k for k in response.json()["results"]}


# --- GET /kpis ----------------------------------------------------------------------------------
def test_the_catalogue_lists_every_builtin(api):
    response = api.get("/api/v1/kpis")
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    codes = [k["code"] for k in body["results"]]
    assert len(codes) == len(set(codes))
    found = {k["code"]: k for k in body["results"]}
    assert set(BUILTINS) <= set(found)
    for code, (unit, direction) in BUILTINS.items():
        kpi = found[code]
        assert {"code", "name", "unit", "direction", "min_volume", "aggregation"} <= set(kpi)
        assert kpi["name"], code
        assert kpi["unit"] in {"percent", "seconds", "count", "score"}, code
        if unit is not None:
            assert kpi["unit"] == unit, code
        assert kpi["direction"] == direction, code
        assert isinstance(kpi["min_volume"], int | float), code
        assert kpi["min_volume"] >= 0, code
        assert kpi["aggregation"] in {"sum", "ratio"}, code
    assert found["contacts_handled"]["aggregation"] == "sum"
    assert found["fcr"]["aggregation"] == "ratio"


def test_the_catalogue_shows_the_interaction_settings(api):
    found = catalogue(api)
    assert found["service_level"]["threshold_seconds"] == 20
    assert found["service_level"]["short_abandon_seconds"] == 5
    assert found["abandon_rate"]["short_abandon_seconds"] == 5


def test_one_kpi_reads_back(api):
    response = api.get("/api/v1/kpis/fcr")
    assert response.status_code == 200
    assert response.json()["code"] == "fcr"
    problem(api.get("/api/v1/kpis/nope"), 404)


def test_reading_the_catalogue_needs_read(tenant, make_client):
    assert make_client(tenant, scopes=("read",)).get("/api/v1/kpis").status_code == 200
    problem(make_client(tenant, scopes=("ingest",)).get("/api/v1/kpis"), 403)


# --- PATCH min_volume ---------------------------------------------------------------------------
def test_patching_min_volume_changes_qualified(api, agent):
    post_events(
        api,
        [
            interaction("e1", answered=True, resolved_first_contact=True),
            interaction("e2", answered=True, resolved_first_contact=True),
            interaction("e3", answered=True, resolved_first_contact=False),
        ],
    )
    fcr = kpis(api)["fcr"]
    assert (fcr["value"], fcr["denominator"], fcr["volume"]) == (66.67, 3, 3)
    assert catalogue(api)["fcr"]["min_volume"] == 10
    assert fcr["qualified"] is False

    response = patch(api, "fcr", {"min_volume": 3})
    assert response.status_code == 200, response.content
    assert response.json()["min_volume"] == 3
    assert catalogue(api)["fcr"]["min_volume"] == 3
    after = kpis(api)["fcr"]
    assert after["qualified"] is True
    assert after["value"] == 66.67

    assert patch(api, "fcr", {"min_volume": 3.5}).status_code == 200
    assert kpis(api)["fcr"]["qualified"] is False
    assert patch(api, "fcr", {"min_volume": 0}).status_code == 200
    assert kpis(api)["fcr"]["qualified"] is True
    # Other KPIs keep their own minimum.
    assert kpis(api)["aht"]["qualified"] is False


def test_min_volume_is_per_tenant(api, outsider_api):
    assert patch(api, "fcr", {"min_volume": 3}).status_code == 200
    assert catalogue(outsider_api)["fcr"]["min_volume"] == 10


def test_a_kpi_with_no_events_is_never_qualified(api, agent):
    assert patch(api, "fcr", {"min_volume": 0}).status_code == 200
    fcr = kpis(api)["fcr"]
    assert (fcr["value"], fcr["qualified"]) == (None, False)


# --- PATCH settings: recomputed buckets -------------------------------------------------------
# Offered to a1 (waits in seconds): answered 25, 10, 20, 31; abandoned 40, 3 (a short abandon).
CALLS = [
    interaction("ans-25", answered=True, wait_seconds=25),
    interaction("ans-10", answered=True, wait_seconds=10),
    interaction("ans-20", answered=True, wait_seconds=20),
    interaction("ans-31", answered=True, wait_seconds=31),
    interaction("abd-40", abandoned=True, wait_seconds=40),
    interaction("abd-3", abandoned=True, wait_seconds=3),
]


def figures(values: dict, code: str) -> tuple:
    kpi = values[code]
    return kpi["value"], kpi["numerator"], kpi["denominator"]


def test_a_new_threshold_recomputes_service_level(api, agent, commit):
    post_events(api, CALLS)
    before = kpis(api)
    # 20 s: answered within ≤ 20 s = 10, 20; offered 6 − 1 short abandon = 5.
    assert figures(before, "service_level") == (40.0, 2, 5)
    assert figures(before, "abandon_rate") == (20.0, 1, 5)

    response = commit(lambda: patch(api, "service_level", {"threshold_seconds": 30}))
    assert response.status_code == 200, response.content
    assert response.json()["threshold_seconds"] == 30
    after = kpis(api)
    # 30 s: 25, 10, 20 within; 31 still out.
    assert figures(after, "service_level") == (60.0, 3, 5)
    assert figures(after, "abandon_rate") == (20.0, 1, 5)
    assert after["asa"]["value"] == 21.5  # (25 + 10 + 20 + 31) / 4, unchanged
    assert figures(kpis(api, "teams/t1"), "service_level") == (60.0, 3, 5)
    assert catalogue(api)["service_level"]["threshold_seconds"] == 30

    # Events after the change count with the new threshold too.
    post_events(api, [interaction("ans-28", answered=True, wait_seconds=28)])
    assert figures(kpis(api), "service_level") == (66.67, 4, 6)

    # And back.
    assert commit(lambda: patch(api, "service_level", {"threshold_seconds": 20})).status_code == 200
    assert figures(kpis(api), "service_level") == (33.33, 2, 6)


def test_a_new_short_abandon_cut_off_changes_both_rates(api, agent, commit):
    post_events(api, CALLS)
    response = commit(lambda: patch(api, "abandon_rate", {"short_abandon_seconds": 45}))
    assert response.status_code == 200, response.content
    assert response.json()["short_abandon_seconds"] == 45
    after = kpis(api)
    # Both abandons (40 s and 3 s) are now short: offered 6 − 2 = 4.
    assert figures(after, "abandon_rate") == (0.0, 0, 4)
    assert figures(after, "service_level") == (50.0, 2, 4)
    found = catalogue(api)
    assert found["service_level"]["short_abandon_seconds"] == 45
    assert found["abandon_rate"]["short_abandon_seconds"] == 45


def test_an_abandon_at_the_cut_off_is_not_short(api, agent, commit):
    post_events(api, CALLS)
    assert (
        commit(lambda: patch(api, "abandon_rate", {"short_abandon_seconds": 3})).status_code == 200
    )
    after = kpis(api)
    # 3 s is not under a 3 s cut-off: no short abandons, denominator 6.
    assert figures(after, "abandon_rate") == (33.33, 2, 6)
    assert figures(after, "service_level") == (33.33, 2, 6)


def test_service_level_takes_the_cut_off_too(api, agent, commit):
    post_events(api, CALLS)
    body = {"threshold_seconds": 30, "short_abandon_seconds": 0}
    response = commit(lambda: patch(api, "service_level", body))
    assert response.status_code == 200, response.content
    after = kpis(api)
    assert figures(after, "service_level") == (50.0, 3, 6)
    assert figures(after, "abandon_rate") == (33.33, 2, 6)


def test_settings_are_per_tenant(api, outsider_api, agent, commit):
    assert commit(lambda: patch(api, "service_level", {"threshold_seconds": 30})).status_code == 200
    assert catalogue(outsider_api)["service_level"]["threshold_seconds"] == 20


def test_a_voided_event_stays_out_after_a_recompute(api, agent, commit):
    post_events(api, CALLS)
    assert api.post("/api/v1/events/ans-25/void").status_code == 200
    assert commit(lambda: patch(api, "service_level", {"threshold_seconds": 30})).status_code == 200
    # 10, 20 within 30 s; offered 5 − 1 short = 4.
    assert figures(kpis(api), "service_level") == (50.0, 2, 4)


def run_periodic_jobs_later(minutes: int = 10) -> None:
    """What celery beat does a few minutes on: every periodic job, once."""
    app.loader.import_default_modules()
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=minutes)):
        call_command("run_periodic", "--once")


def test_a_recompute_lost_with_the_broker_happens_later(api, agent, commit):
    post_events(api, CALLS)
    with mock.patch.object(recompute_tenant, "delay", side_effect=ConnectionError("down")):
        response = commit(lambda: patch(api, "service_level", {"threshold_seconds": 30}))
    assert response.status_code == 200, response.content
    run_periodic_jobs_later()
    assert figures(kpis(api), "service_level") == (60.0, 3, 5)


# --- PATCH bad input ----------------------------------------------------------------------------
def test_patching_an_unknown_kpi_is_a_404(api):
    problem(patch(api, "nope", {"min_volume": 3}), 404)


@pytest.mark.parametrize(
    ("code", "body", "field"),
    [
        ("fcr", {"threshold_seconds": 30}, "threshold_seconds"),
        ("fcr", {"short_abandon_seconds": 3}, "short_abandon_seconds"),
        ("abandon_rate", {"threshold_seconds": 30}, "threshold_seconds"),
        ("fcr", {"min_volume": -1}, "min_volume"),
        ("fcr", {"min_volume": True}, "min_volume"),
        ("fcr", {"min_volume": None}, "min_volume"),
        ("fcr", {"min_volume": "lots"}, "min_volume"),
        ("service_level", {"threshold_seconds": "30"}, "threshold_seconds"),
        ("service_level", {"threshold_seconds": 2.5}, "threshold_seconds"),
        ("service_level", {"threshold_seconds": -1}, "threshold_seconds"),
        ("service_level", {"threshold_seconds": True}, "threshold_seconds"),
        ("abandon_rate", {"short_abandon_seconds": "5"}, "short_abandon_seconds"),
        ("abandon_rate", {"short_abandon_seconds": -5}, "short_abandon_seconds"),
        ("fcr", {"colour": "red"}, "colour"),
        ("fcr", {"name": "First call resolution"}, "name"),
        ("fcr", {"code": "fcr2"}, "code"),
    ],
)
def test_bad_patches_are_400s_naming_the_field(api, code, body, field):
    before = catalogue(api)[code]
    response = patch(api, code, body)
    assert field in problem(response, 400)["errors"]
    assert catalogue(api)[code] == before


@pytest.mark.parametrize("path", ["kpis/fcr", "kpis"])
def test_a_string_min_volume_is_a_400(api, path):
    if path == "kpis":
        body = {**UPSELLS, "min_volume": "3"}
        response = api.post("/api/v1/kpis", body, format="json")
    else:
        response = patch(api, "fcr", {"min_volume": "3"})
    assert "min_volume" in problem(response, 400)["errors"]


@pytest.mark.parametrize("body", [[{"min_volume": 3}], "min_volume=3", 3])
def test_a_patch_body_must_be_an_object(api, body):
    problem(patch(api, "fcr", body), 400)


def test_patches_need_manage(tenant, make_client):
    for scopes in (("read",), ("ingest",), ("read", "ingest")):
        client = make_client(tenant, scopes=scopes)
        problem(patch(client, "fcr", {"min_volume": 3}), 403)
        problem(client.post("/api/v1/kpis", UPSELLS, format="json"), 403)
    assert not Kpi.objects.exists()
    manager = make_client(tenant, scopes=("manage",))
    assert patch(manager, "fcr", {"min_volume": 3}).status_code == 200


# --- POST /kpis: custom KPIs ----------------------------------------------------------------
UPSELLS = {
    "code": "upsells",
    "name": "Upsells",
    "unit": "count",
    "direction": "higher_is_better",
    "aggregation": "sum",
    "min_volume": 0,
}
CONVERSION = {
    "code": "conversion",
    "name": "Conversion",
    "unit": "percent",
    "direction": "higher_is_better",
    "aggregation": "ratio",
    "min_volume": 2,
}


def create(client, body):
    return client.post("/api/v1/kpis", body, format="json")


def test_a_custom_kpi_is_created_and_listed(api):
    response = create(api, UPSELLS)
    assert response.status_code == 201, response.content
    body = response.json()
    for key in ("code", "name", "unit", "direction", "aggregation", "min_volume"):
        assert body[key] == UPSELLS[key], key
    assert body["custom"] is True
    found = catalogue(api)
    assert found["upsells"]["aggregation"] == "sum"
    assert api.get("/api/v1/kpis/upsells").json()["name"] == "Upsells"


def test_a_sum_kpi_adds_up_metric_values(api, agent):
    assert create(api, UPSELLS).status_code == 201
    post_events(
        api,
        [
            metric("m1", "upsells", 3),
            metric("m2", "upsells", 4.5),
            metric("m3", "upsells", -0.5, agent="a2"),
        ],
    )
    upsells = kpis(api)["upsells"]
    assert upsells["value"] == 7.5
    assert (upsells["numerator"], upsells["denominator"], upsells["volume"]) == (7.5, 2, 2)
    assert upsells["qualified"] is True
    assert kpis(api, "agents/a2")["upsells"]["value"] == -0.5
    assert kpis(api, "teams/t1")["upsells"]["value"] == 7.5


def test_a_ratio_kpi_divides_values_by_counts(api, agent):
    assert create(api, CONVERSION).status_code == 201
    post_events(
        api,
        [
            metric("m1", "conversion", 1),
            metric("m2", "conversion", 0),
            metric("m3", "conversion", 1, count=2),
        ],
    )
    conversion = kpis(api)["conversion"]
    # Σ value 2 / Σ count 4, a percent on 0–100.
    assert conversion["value"] == 50.0
    assert (conversion["numerator"], conversion["denominator"]) == (2, 4)
    assert conversion["qualified"] is True
    assert api.post("/api/v1/events/m3/void").status_code == 200
    conversion = kpis(api)["conversion"]
    assert (conversion["value"], conversion["denominator"], conversion["qualified"]) == (
        50.0,
        2,
        True,
    )
    assert api.post("/api/v1/events/m1/void").status_code == 200
    conversion = kpis(api)["conversion"]
    assert (conversion["value"], conversion["qualified"]) == (0.0, False)


def test_a_score_ratio_kpi_is_an_average(api, agent):
    body = {**CONVERSION, "code": "revenue", "unit": "score", "min_volume": 0}
    assert create(api, body).status_code == 201
    post_events(api, [metric("m1", "revenue", 30), metric("m2", "revenue", 50, count=3)])
    assert kpis(api)["revenue"]["value"] == 20.0


def test_a_custom_kpi_without_events_is_null(api, agent):
    assert create(api, UPSELLS).status_code == 201
    upsells = kpis(api)["upsells"]
    assert (upsells["value"], upsells["denominator"], upsells["qualified"]) == (None, 0, False)


def test_metric_events_wait_for_their_kpi(api, agent):
    event = metric("m1", "upsells", 3)
    response = api.post("/api/v1/events", {"events": [event]}, format="json")
    assert list(response.json()["rejected"][0]["errors"]) == ["kpi"]
    assert create(api, UPSELLS).status_code == 201
    post_events(api, [event])
    assert kpis(api)["upsells"]["value"] == 3


def test_custom_kpis_are_per_tenant(api, outsider_api, agent):
    assert create(api, UPSELLS).status_code == 201
    assert "upsells" not in catalogue(outsider_api)
    response = outsider_api.post(
        "/api/v1/events", {"events": [metric("m1", "upsells", 3)]}, format="json"
    )
    assert list(response.json()["rejected"][0]["errors"]) == ["kpi"]
    assert create(outsider_api, UPSELLS).status_code == 201


def test_a_custom_kpi_takes_patches(api, agent):
    assert create(api, CONVERSION).status_code == 201
    response = patch(api, "conversion", {"min_volume": 1, "name": "Sales conversion"})
    assert response.status_code == 200, response.content
    assert (response.json()["min_volume"], response.json()["name"]) == (1, "Sales conversion")
    body = patch(api, "conversion", {"threshold_seconds": 30})
    assert "threshold_seconds" in problem(body, 400)["errors"]


@pytest.mark.parametrize(
    "code", ["Upsells", "1up", "u", "up-sells", "up sells", "x" * 41, "", "_up", "über"]
)
def test_a_bad_code_is_a_400(api, code):
    assert "code" in problem(create(api, {**UPSELLS, "code": code}), 400)["errors"]
    assert not Kpi.objects.exists()


@pytest.mark.parametrize("code", list(BUILTINS))
def test_a_builtin_code_is_a_400(api, code):
    assert "code" in problem(create(api, {**UPSELLS, "code": code}), 400)["errors"]
    assert not Kpi.objects.exists()


def test_a_builtin_code_stays_a_400_after_a_patch(api):
    assert patch(api, "fcr", {"min_volume": 3}).status_code == 200
    assert "code" in problem(create(api, {**UPSELLS, "code": "fcr"}), 400)["errors"]


def test_a_duplicate_code_is_a_409(api):
    assert create(api, UPSELLS).status_code == 201
    body = problem(create(api, {**UPSELLS, "name": "Other"}), 409)
    assert "code" in body["errors"]
    assert Kpi.objects.get(code="upsells").name == "Upsells"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"unit": "bananas"}, "unit"),
        ({"direction": "up"}, "direction"),
        ({"aggregation": "avg"}, "aggregation"),
        ({"min_volume": -1}, "min_volume"),
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"code": 5}, "code"),
        ({"colour": "red"}, "colour"),
        ({"threshold_seconds": 20}, "threshold_seconds"),
    ],
)
def test_bad_custom_kpis_are_400s_naming_the_field(api, changes, field):
    body = {**UPSELLS, **changes}
    assert field in problem(create(api, body), 400)["errors"]
    assert not Kpi.objects.exists()


@pytest.mark.parametrize("missing", ["code", "name", "unit", "direction", "aggregation"])
def test_required_fields_of_a_custom_kpi(api, missing):
    body = {k: v for k, v in UPSELLS.items() if k != missing}
    assert missing in problem(create(api, body), 400)["errors"]
