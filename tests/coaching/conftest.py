"""Coaching fixtures: a team of three agents with a week of calls whose figures are computed
by hand in the tests (tenant Asia/Shanghai, weeks from Monday)."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from tests.game.support import call, ingest, local


def put(client: Any, path: str, body: dict[str, Any]) -> Any:
    response = client.put(f"/api/v1/{path}", body, format="json")
    assert response.status_code in (200, 201), response.content
    return response


@pytest.fixture
def now():
    """Tests run on Monday 2026-11-23, 10:00 in Shanghai, unless they travel on."""
    with time_machine.travel(local("2026-11-23", 10), tick=False) as traveller:
        yield traveller


@pytest.fixture
def floor(api, tenant, commit, now) -> dict[str, Any]:
    """Team t1: a1, a2, a3 (from Nov 1); a4 (from Nov 1, leaves Wed Nov 18). Week of Mon Nov 16:

    a1: calls of 100 s and 200 s, both resolved first time            → AHT 150, FCR 100 %
    a2: one call of 300 s, not resolved                                → AHT 300, FCR 0 %
    a3: three calls of 150 s: resolved, not resolved, unknown          → AHT 150, FCR 50 %
    Week before (Nov 9-15): a1 one call of 200 s (resolved)            → AHT 200, FCR 100 %
    """
    for code in ("aht", "fcr"):
        response = commit(
            lambda code=code: api.patch(f"/api/v1/kpis/{code}", {"min_volume": 1}, format="json")
        )
        assert response.status_code == 200, response.content
    with time_machine.travel(local("2026-11-01", 9), tick=False):
        put(api, "teams/t1", {"name": "Tier 1", "parent": None})
        for ext, name in (("a1", "Ann"), ("a2", "Bo"), ("a3", "Cy"), ("a4", "Di")):
            put(api, f"agents/{ext}", {"display_name": name, "team": "t1"})
    with time_machine.travel(local("2026-11-18", 15), tick=False):
        assert api.delete("/api/v1/agents/a4").status_code == 204
    ingest(
        tenant,
        [
            call("a1", local("2026-11-16", 9), talk=100, resolved_first_contact=True),
            call("a1", local("2026-11-17", 9), talk=200, resolved_first_contact=True),
            call("a2", local("2026-11-18", 9), talk=300, resolved_first_contact=False),
            call("a3", local("2026-11-19", 9), talk=150, resolved_first_contact=True),
            call("a3", local("2026-11-19", 10), talk=150, resolved_first_contact=False),
            call("a3", local("2026-11-20", 11), talk=150),
            call("a1", local("2026-11-12", 9), talk=200, resolved_first_contact=True),
        ],
    )
    return {"tenant": tenant}
