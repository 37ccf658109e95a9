"""The reason a board gives an entry it does not rank, worded for the person reading it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gamify.leaderboards.boards import Guardrail, guardrail_reason


@pytest.mark.parametrize(
    ("rail", "value", "reason"),
    [
        (Guardrail("csat", ">=", Decimal(80)), 72.5, "csat 72.5 is below 80"),
        (Guardrail("csat", ">=", Decimal("80.5")), 60.0, "csat 60 is below 80.5"),
        (Guardrail("aht", "<=", Decimal(300)), 312.25, "aht 312.25 is above 300"),
        (Guardrail("csat", ">=", Decimal(80)), None, "needs csat ≥ 80 (no surveys yet)"),
        (
            Guardrail("qa_score", ">=", Decimal(90)),
            None,
            "needs qa_score ≥ 90 (no evaluations yet)",
        ),
        (Guardrail("aht", "<=", Decimal(300)), None, "needs aht ≤ 300 (no answered contacts yet)"),
        (
            Guardrail("adherence", ">=", Decimal(95)),
            None,
            "needs adherence ≥ 95 (no scheduled time yet)",
        ),
    ],
)
def test_a_failed_guardrail_says_what_is_missing(rail, value, reason):
    assert guardrail_reason(rail, value) == reason
