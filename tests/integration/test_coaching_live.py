"""Coaching in production mode: gunicorn + a Celery worker on Redis + PostgreSQL. A goal and
an alert rule are judged by the worker when it applies posted events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from bench.stack import wait_until
from tests.integration.live import live_stack

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_worker_judges_goals_and_alerts(tmp_path):
    with live_stack(tmp_path, timezone="UTC") as live:
        api, headers = live.api, live.headers

        def call(method: str, path: str, body: dict | None = None) -> dict:
            response = requests.request(
                method, f"{api}/{path}", json=body, headers=headers, timeout=30
            )
            assert response.status_code in (200, 201, 202), response.text
            return response.json()

        call("PUT", "teams/t1", {"name": "Tier 1"})
        for ext in ("a1", "a2"):
            call("PUT", f"agents/{ext}", {"display_name": ext, "team": "t1"})
        goal = call("POST", "goals", {"kpi": "contacts_handled", "target": 2, "period": "day",
                                      "scope": {"agent": "a1"}})  # fmt: skip
        call("POST", "alert-rules", {"name": "fast", "kind": "exceeds", "kpi": "aht",
                                     "percent": 10, "period": "day", "min_volume": 1})  # fmt: skip
        at = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
        events = [
            {"event_id": f"e{n}", "type": "interaction", "occurred_at": at, "agent": agent,
             "answered": True, "talk_seconds": talk}
            for n, (agent, talk) in enumerate([("a1", 60), ("a1", 60), ("a2", 300)])
        ]  # fmt: skip
        call("POST", "events", {"events": events})

        def feed() -> set[tuple[str, str]]:
            body = call("GET", "activity?types=goal.achieved,alert.exceeds,alert.behind")
            return {(a["type"], a["agent"]) for a in body["results"]}

        wait_until(
            lambda: {("goal.achieved", "a1"), ("alert.exceeds", "a1")} <= feed(),
            timeout=60,
            what="the worker to judge the goal and the rule",
        )
        assert call("GET", f"goals/{goal['id']}")["status"] == "achieved"
        card = call("GET", "agents/a1/scorecard?period=day")
        aht = next(k for k in card["kpis"] if k["code"] == "aht")
        # team AHT = (60 + 60 + 300) / 3 = 140; a1 60 is better by more than 10 %
        assert (aht["value"], aht["team_average"]) == (60.0, 140.0)
