"""Built-in KPI formulas (DESIGN.md §4), checked against numbers worked out by hand.

Most tests are pure: events are validated with the wire schema (so payloads carry the same
defaults as stored raw events), folded with `event_counters`, and valued with `builtin_value`.
A few go end to end over HTTP: POST /events, then GET /agents/{id}/kpis.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest

from kpis.formulas import (
    BUILTIN,
    COUNTERS,
    INDEX,
    N_COUNTERS,
    InteractionSettings,
    KpiValue,
    builtin_value,
    event_counters,
)
from kpis.schemas import payload_of, validate_events

DEFAULTS = InteractionSettings()
_ids = itertools.count(1)

Event = tuple[str, dict[str, Any]]


def event(type_: str, **fields: Any) -> Event:
    """A (type, payload) pair exactly as ingestion stores it: validated by the wire schema."""
    item = {
        "event_id": f"e{next(_ids)}",
        "type": type_,
        "occurred_at": "2026-11-20T09:15:00+08:00",
        "agent": "a1",
        **fields,
    }
    valid, rejected = validate_events([item])
    assert not rejected, rejected
    return type_, payload_of(valid[0][1])


def ix(**fields: Any) -> Event:
    return event("interaction", **fields)


def survey(**fields: Any) -> Event:
    return event("survey", **fields)


def sums(events: list[Event], settings: InteractionSettings = DEFAULTS) -> list[int]:
    total = [0] * N_COUNTERS
    for type_, payload in events:
        for i, v in enumerate(event_counters(type_, payload, settings)):
            total[i] += v
    return total


def kpi(
    code: str,
    events: list[Event],
    settings: InteractionSettings = DEFAULTS,
    min_volume: Decimal | None = None,
) -> KpiValue:
    formula = BUILTIN[code]
    volume = formula.min_volume if min_volume is None else min_volume
    return builtin_value(formula, sums(events, settings), volume)


def triple(value: KpiValue) -> tuple[Any, Any, Any]:
    return value.value, value.numerator, value.denominator


# --- counters ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "item",
    [
        ix(answered=True),
        survey(csat=5),
        event("qa_evaluation", score=80),
        event("adherence", scheduled_seconds=60, adherent_seconds=30),
        event("metric", kpi="sales", value=3),
    ],
)
def test_every_event_counts_once_in_events(item):
    counters = event_counters(*item, DEFAULTS)
    assert len(counters) == len(COUNTERS)
    assert counters[INDEX["events"]] == 1


def test_a_metric_event_feeds_no_builtin_counter():
    counters = event_counters(*event("metric", kpi="sales", value=3, count=2), DEFAULTS)
    assert counters == [1] + [0] * (N_COUNTERS - 1)


def test_one_survey_can_feed_csat_nps_and_ces_at_once():
    c = event_counters(*survey(csat=4, nps=9, ces=2), DEFAULTS)
    assert c[INDEX["csat_responses"]] == c[INDEX["nps_responses"]] == 1
    assert c[INDEX["ces_responses"]] == 1
    assert (c[INDEX["csat_top2"]], c[INDEX["csat_sum"]]) == (1, 4)
    assert (c[INDEX["nps_promoters"]], c[INDEX["nps_detractors"]]) == (1, 0)
    assert c[INDEX["ces_sum"]] == 2


# --- FCR ----------------------------------------------------------------------------------------
def test_fcr_excludes_unknown_resolution():
    events = [
        ix(answered=True, resolved_first_contact=True),
        ix(answered=True, resolved_first_contact=True),
        ix(answered=True, resolved_first_contact=False),
        ix(answered=True, resolved_first_contact=None),  # unknown: not in the denominator
        ix(answered=True),  # not sent: unknown too
    ]
    # known = 3 (T, T, F), resolved = 2 → 100 * 2 / 3 = 66.666… → 66.67
    value = kpi("fcr", events)
    assert triple(value) == (66.67, 2, 3)
    assert value.volume == 3
    assert value.qualified is False  # min volume 10


def test_fcr_only_unknown_resolutions_has_no_value():
    value = kpi("fcr", [ix(answered=True), ix(answered=True, resolved_first_contact=None)])
    assert triple(value) == (None, 0, 0)


# --- handle times -------------------------------------------------------------------------------
HANDLE_EVENTS = [
    # A: handle = 100 + 20 + 30 = 150, wait 10
    ix(answered=True, wait_seconds=10, talk_seconds=100, hold_seconds=20, acw_seconds=30),
    # B: handle = 200.5 + 0 + 49.5 = 250, wait 25
    ix(answered=True, wait_seconds=25, talk_seconds=200.5, acw_seconds=49.5),
    # C: abandoned (never answered): its durations must not count, its wait does for queue_time
    ix(abandoned=True, wait_seconds=30, talk_seconds=999, hold_seconds=50, acw_seconds=60),
]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("aht", (200.0, 400, 2)),  # (150 + 250) / 2 answered = 200
        ("talk_time", (150.25, 300.5, 2)),  # (100 + 200.5) / 2 = 150.25
        ("hold_time", (10.0, 20, 2)),  # (20 + 0) / 2 = 10
        ("acw", (39.75, 79.5, 2)),  # (30 + 49.5) / 2 = 39.75
        ("asa", (17.5, 35, 2)),  # waits of answered: (10 + 25) / 2 = 17.5
        ("queue_time", (21.67, 65, 3)),  # waits of offered: (10 + 25 + 30) / 3 = 21.666… → 21.67
    ],
)
def test_handle_time_kpis_count_answered_interactions_only(code, expected):
    assert triple(kpi(code, HANDLE_EVENTS)) == expected


def test_aht_keeps_milliseconds_and_rounds_half_up():
    # 12.345 + 0.001 + 0 = 12.346 s over 1 answered → 12.346 → 12.35
    value = kpi("aht", [ix(answered=True, talk_seconds=12.345, hold_seconds=0.001)])
    assert triple(value) == (12.35, 12.346, 1)
    # 0.005 s → 0.01 (half up; banker's rounding would give 0.00)
    assert kpi("aht", [ix(answered=True, talk_seconds=0.005)]).value == 0.01


def test_aht_of_only_unanswered_interactions_is_null():
    value = kpi("aht", [ix(abandoned=True, wait_seconds=30, talk_seconds=60)])
    assert triple(value) == (None, 0, 0)


# --- abandon rate and service level ------------------------------------------------------------
SL_EVENTS = [
    ix(answered=True, wait_seconds=0),  # within 20 s
    ix(answered=True, wait_seconds=3),  # within 20 s
    ix(answered=True, wait_seconds=20),  # within: wait ≤ threshold
    ix(answered=True, wait_seconds=20.001),  # 1 ms over the threshold
    ix(abandoned=True, wait_seconds=4.999),  # short abandon: 4.999 < 5
    ix(abandoned=True, wait_seconds=5),  # not short: 5 is not < 5
    ix(abandoned=True, wait_seconds=60),
]


def test_abandon_rate_excludes_short_abandons_from_both_sides():
    # offered 7, short 1 → counted 6; abandoned 3 - short 1 = 2 → 100 * 2 / 6 = 33.33
    assert triple(kpi("abandon_rate", SL_EVENTS)) == (33.33, 2, 6)


def test_service_level_counts_abandons_in_the_denominator():
    # within threshold: waits 0, 3, 20 → 3; offered 7 - 1 short abandon = 6 → 3 / 6 = 50.00
    # (were abandons left out of the denominator it would be 3 / 4 = 75)
    assert triple(kpi("service_level", SL_EVENTS)) == (50.0, 3, 6)


def test_interactions_not_offered_to_a_queue_stay_out_of_queue_kpis():
    outbound = ix(offered=False, direction="outbound", answered=True, talk_seconds=60)
    events = [*SL_EVENTS, outbound]
    assert triple(kpi("service_level", events)) == (50.0, 3, 6)
    assert triple(kpi("abandon_rate", events)) == (33.33, 2, 6)
    # …but it was answered: contacts handled 4 + 1 = 5
    assert kpi("contacts_handled", events).value == 5


def test_only_short_abandons_leave_rates_without_a_value():
    events = [ix(abandoned=True, wait_seconds=1), ix(abandoned=True, wait_seconds=4.9)]
    # 2 offered - 2 short = 0 → null, not 0 %
    assert triple(kpi("abandon_rate", events)) == (None, 0, 0)
    assert triple(kpi("service_level", events)) == (None, 0, 0)


@pytest.mark.parametrize(
    ("interaction", "abandon", "service_level"),
    [
        # threshold 30, short < 10: SL waits 0, 3, 20, 20.001 → 4; short 4.999 and 5 → 2
        # counted 7 - 2 = 5; abandon (3 - 2) / 5 = 20 %; SL 4 / 5 = 80 %
        (InteractionSettings(30, 10), (20.0, 1, 5), (80.0, 4, 5)),
        # threshold 3, no short abandons: SL waits 0, 3 → 2 / 7 = 28.571… → 28.57
        # abandon 3 / 7 = 42.857… → 42.86
        (InteractionSettings(3, 0), (42.86, 3, 7), (28.57, 2, 7)),
    ],
)
def test_interaction_settings_change_the_counters(interaction, abandon, service_level):
    assert triple(kpi("abandon_rate", SL_EVENTS, interaction)) == abandon
    assert triple(kpi("service_level", SL_EVENTS, interaction)) == service_level


# --- rates --------------------------------------------------------------------------------------
def test_blocked_rate_is_blocked_over_attempts():
    events = [
        ix(offered=False, blocked=True),
        ix(answered=True),
        ix(answered=True),
        ix(abandoned=True, wait_seconds=30),
    ]
    # 1 blocked / 4 attempts = 25 %
    assert triple(kpi("blocked_rate", events)) == (25.0, 1, 4)


def test_transfer_rate_is_transferred_over_answered():
    events = [
        ix(answered=True, transferred=True),
        ix(answered=True),
        ix(answered=True),
        ix(answered=True),
        ix(abandoned=True, wait_seconds=30, transferred=True),  # never answered: not counted
    ]
    # 1 transferred of 4 answered = 25 %
    assert triple(kpi("transfer_rate", events)) == (25.0, 1, 4)


def test_save_rate_is_saves_over_save_attempts():
    events = [
        ix(answered=True, save_attempt=True, saved=True),
        ix(answered=True, save_attempt=True, saved=True),
        ix(answered=True, save_attempt=True),
        ix(answered=True),  # no save attempt
    ]
    # 2 / 3 = 66.666… → 66.67
    assert triple(kpi("save_rate", events)) == (66.67, 2, 3)


def test_contacts_handled_counts_answered_interactions():
    events = [ix(answered=True), ix(answered=True), ix(answered=True), ix(abandoned=True)]
    value = kpi("contacts_handled", events)
    assert triple(value) == (3, 3, 3)
    assert value.qualified is True  # min volume 1


# --- surveys ------------------------------------------------------------------------------------
def test_csat_is_top_two_box_of_one_to_five():
    events = [survey(csat=s) for s in (5, 4, 3, 2, 1)]
    # 4 and 5 → 2 of 5 = 40 %
    assert triple(kpi("csat", events)) == (40.0, 2, 5)
    # (5 + 4 + 3 + 2 + 1) / 5 = 3
    assert triple(kpi("csat_avg", events)) == (3.0, 15, 5)


def test_csat_avg_rounds_to_two_decimals():
    # (5 + 4 + 4) / 3 = 4.333… → 4.33; top-2-box 3 / 3 = 100 %
    events = [survey(csat=s) for s in (5, 4, 4)]
    assert triple(kpi("csat_avg", events)) == (4.33, 13, 3)
    assert kpi("csat", events).value == 100.0


def test_surveys_without_csat_do_not_count_for_csat():
    events = [survey(csat=5), survey(nps=10), survey(ces=3)]
    assert triple(kpi("csat", events)) == (100.0, 1, 1)
    assert triple(kpi("nps", events)) == (100.0, 1, 1)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        # promoters 10, 9 = 2; passives 8, 7; detractors 6, 0 = 2 → 100 * (2 - 2) / 6 = 0
        ((10, 9, 8, 7, 6, 0), (0.0, 0, 6)),
        # promoters 3, detractors 1 → 100 * 2 / 5 = 40
        ((10, 10, 9, 8, 0), (40.0, 2, 5)),
        # detractors 0 and 6, passive 7 → 100 * (0 - 2) / 3 = -66.666… → -66.67
        ((0, 6, 7), (-66.67, -2, 3)),
        ((9, 9, 9, 9), (100.0, 4, 4)),
        ((0, 0), (-100.0, -2, 2)),
        ((7, 8), (0.0, 0, 2)),
    ],
)
def test_nps_is_promoters_minus_detractors(scores, expected):
    assert triple(kpi("nps", [survey(nps=s) for s in scores])) == expected


@pytest.mark.parametrize(
    ("scores", "expected"),
    [((2, 3, 7), (4.0, 12, 3)), ((1, 2), (1.5, 3, 2)), ((1, 1, 2), (1.33, 4, 3))],
)
def test_ces_is_the_average_effort(scores, expected):
    # (2 + 3 + 7) / 3 = 4; (1 + 2) / 2 = 1.5; (1 + 1 + 2) / 3 = 1.333… → 1.33
    assert triple(kpi("ces", [survey(ces=s) for s in scores])) == expected


# --- QA and adherence ---------------------------------------------------------------------------
def test_qa_score_keeps_decimals():
    events = [event("qa_evaluation", score=s) for s in (87.5, 92.25, 70)]
    # (87.5 + 92.25 + 70) / 3 = 249.75 / 3 = 83.25
    value = kpi("qa_score", events)
    assert triple(value) == (83.25, 249.75, 3)
    assert value.qualified is True  # min volume 1
    # (99.99 + 0.01) / 2 = 50
    pair = [event("qa_evaluation", score=s) for s in (99.99, 0.01)]
    assert triple(kpi("qa_score", pair)) == (50.0, 100, 2)


def test_adherence_is_adherent_over_scheduled_seconds():
    events = [
        event("adherence", scheduled_seconds=3600, adherent_seconds=3240),
        event("adherence", scheduled_seconds=1800, adherent_seconds=1800),
    ]
    # 100 * (3240 + 1800) / (3600 + 1800) = 100 * 5040 / 5400 = 93.333… → 93.33
    value = kpi("adherence", events)
    assert triple(value) == (93.33, 5040, 5400)
    assert value.volume == 5400
    assert value.qualified is True  # min volume 3600 scheduled seconds
    half_hour = kpi("adherence", events[1:])
    assert (half_hour.value, half_hour.qualified) == (100.0, False)  # 1800 < 3600


def test_adherence_with_fractional_seconds():
    value = kpi("adherence", [event("adherence", scheduled_seconds=0.5, adherent_seconds=0.25)])
    # 0.25 / 0.5 = 50 %
    assert triple(value) == (50.0, 0.25, 0.5)


# --- null values, rounding, qualification -------------------------------------------------------
@pytest.mark.parametrize("code", sorted(BUILTIN))
def test_value_is_null_when_the_denominator_is_zero(code):
    value = kpi(code, [])
    assert value.as_dict() == {
        "value": None,
        "numerator": 0,
        "denominator": 0,
        "volume": 0,
        "qualified": False,
    }


@pytest.mark.parametrize(
    ("resolved", "known", "expected"),
    [
        (2, 3, 66.67),  # 66.666…
        (1, 3, 33.33),  # 33.333…
        (1, 8, 12.5),
        (1, 32, 3.13),  # 3.125 → 3.13 half up (banker's would give 3.12)
        (1, 6, 16.67),  # 16.666…
        (0, 4, 0.0),
    ],
)
def test_percentages_round_to_two_decimals(resolved, known, expected):
    events = [ix(answered=True, resolved_first_contact=i < resolved) for i in range(known)]
    assert kpi("fcr", events).value == expected


def test_qualified_needs_the_minimum_volume():
    nine = [ix(answered=True, resolved_first_contact=True) for _ in range(9)]
    assert kpi("fcr", nine).qualified is False  # 9 < 10
    assert kpi("fcr", [*nine, ix(resolved_first_contact=False)]).qualified is True  # 10 ≥ 10
    assert kpi("fcr", nine, min_volume=Decimal(5)).qualified is True
    # no volume is never qualified, even with a minimum of 0
    assert kpi("fcr", [], min_volume=Decimal(0)).qualified is False


# --- end to end over HTTP -----------------------------------------------------------------------
def post(api, events):
    response = api.post("/api/v1/events", {"events": events}, format="json")
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": len(events), "duplicates": 0, "rejected": []}


def wire(event_id, occurred_at, type_="interaction", **fields):
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": occurred_at,
        "agent": "a1",
        **fields,
    }


DAY_EVENTS = [
    wire("d1", "2026-11-20T09:00:00+08:00", answered=True, wait_seconds=3, talk_seconds=100,
         hold_seconds=20, acw_seconds=30, resolved_first_contact=True),
    wire("d2", "2026-11-20T09:30:00+08:00", answered=True, wait_seconds=25, talk_seconds=200.5,
         acw_seconds=49.5, resolved_first_contact=False, transferred=True),
    wire("d3", "2026-11-20T10:00:00+08:00", abandoned=True, wait_seconds=4),  # short abandon
    wire("d4", "2026-11-20T10:05:00+08:00", abandoned=True, wait_seconds=40),
    # 16:30 UTC on the 19th is 00:30 on the 20th in Shanghai: inside the local day
    wire("d5", "2026-11-19T16:30:00Z", answered=True, wait_seconds=10, talk_seconds=50,
         acw_seconds=10, resolved_first_contact=True),
    wire("d6", "2026-11-20T11:00:00+08:00", "survey", nps=10, csat=5),
    wire("d7", "2026-11-20T11:30:00+08:00", "survey", nps=3, csat=3),
    wire("d8", "2026-11-20T12:00:00+08:00", "qa_evaluation", score=91.5),
    wire("d9", "2026-11-20T12:00:00+08:00", "adherence", scheduled_seconds=3600,
         adherent_seconds=3420),
    # outside the local day
    wire("x1", "2026-11-19T23:59:59+08:00", answered=True, talk_seconds=1000,
         resolved_first_contact=False),
    wire("x2", "2026-11-21T00:00:00+08:00", answered=True, talk_seconds=1000,
         resolved_first_contact=False),
]  # fmt: skip


def test_http_day_kpis_match_hand_computed_values(api, agent):
    post(api, DAY_EVENTS)
    response = api.get("/api/v1/agents/a1/kpis", {"period": "day", "date": "2026-11-20"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == {
        "type": "day",
        "start": "2026-11-20T00:00:00+08:00",
        "end": "2026-11-21T00:00:00+08:00",
    }
    kpis = body["kpis"]
    assert "turnover" not in kpis  # teams and tenant only
    got = {code: (v["value"], v["numerator"], v["denominator"]) for code, v in kpis.items()}
    # answered d1, d2, d5: handle 150 + 250 + 60 = 460 → 460 / 3 = 153.333… → 153.33
    assert got["aht"] == (153.33, 460, 3)
    # known d1, d2, d5; resolved d1, d5 → 2 / 3
    assert got["fcr"] == (66.67, 2, 3)
    # offered d1-d5 = 5, short abandon d3 → 4; abandoned d4 → 1 / 4 = 25 %
    assert got["abandon_rate"] == (25.0, 1, 4)
    # within 20 s: d1 (3 s), d5 (10 s) → 2 / 4 = 50 % (d4, an abandon, is in the denominator)
    assert got["service_level"] == (50.0, 2, 4)
    assert got["transfer_rate"] == (33.33, 1, 3)  # 1 / 3
    assert got["contacts_handled"] == (3, 3, 3)
    assert got["nps"] == (0.0, 0, 2)  # 1 promoter - 1 detractor
    assert got["csat"] == (50.0, 1, 2)  # 5 is top-2, 3 is not
    assert got["csat_avg"] == (4.0, 8, 2)  # (5 + 3) / 2
    assert got["qa_score"] == (91.5, 91.5, 1)
    assert got["adherence"] == (95.0, 3420, 3600)  # 3420 / 3600
    assert got["ces"] == (None, 0, 0)
    assert kpis["fcr"]["volume"] == 3
    assert kpis["fcr"]["qualified"] is False
    assert kpis["adherence"]["qualified"] is True


def test_http_agent_without_events_has_null_values(api, agent):
    kpis = api.get("/api/v1/agents/a1/kpis", {"period": "day", "date": "2026-11-20"}).json()["kpis"]
    assert set(kpis) == set(BUILTIN) - {"turnover"}
    for value in kpis.values():
        assert value == {
            "value": None,
            "numerator": 0,
            "denominator": 0,
            "volume": 0,
            "qualified": False,
        }


def test_http_changing_interaction_settings_recomputes_values(api, agent, commit):
    post(
        api,
        [
            wire(f"s{i}", f"2026-11-20T09:{i:02d}:00+08:00", **fields)
            for i, fields in enumerate(
                [
                    {"answered": True, "wait_seconds": 0},
                    {"answered": True, "wait_seconds": 3},
                    {"answered": True, "wait_seconds": 20},
                    {"answered": True, "wait_seconds": 20.001},
                    {"abandoned": True, "wait_seconds": 4.999},
                    {"abandoned": True, "wait_seconds": 5},
                    {"abandoned": True, "wait_seconds": 60},
                ]
            )
        ],
    )

    def values():
        kpis = api.get("/api/v1/agents/a1/kpis", {"period": "day", "date": "2026-11-20"})
        body = kpis.json()["kpis"]
        return body["service_level"]["value"], body["abandon_rate"]["value"]

    # defaults (see SL_EVENTS): SL 3 / 6 = 50 %, abandon 2 / 6 = 33.33 %
    assert values() == (50.0, 33.33)
    patched = commit(
        lambda: api.patch("/api/v1/kpis/service_level", {"threshold_seconds": 30}, format="json")
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["threshold_seconds"] == 30
    # threshold 30: 4 within / 6 = 66.67 %; abandon unchanged
    assert values() == (66.67, 33.33)
    patched = commit(
        lambda: api.patch("/api/v1/kpis/abandon_rate", {"short_abandon_seconds": 10}, format="json")
    )
    assert patched.status_code == 200, patched.content
    # short < 10 s: 4.999 and 5 → counted 7 - 2 = 5; abandon 1 / 5 = 20 %; SL 4 / 5 = 80 %
    assert values() == (80.0, 20.0)
