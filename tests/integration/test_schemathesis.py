"""A bounded schemathesis run over the whole served schema, against a live production-mode
stack: no server error, every status, media type and body as documented, and every request
that the schema calls invalid refused (issue 14, item 13).

Seeded and bounded (a fixed seed, a fixed number of cases per operation) so it finds the
same things on every run and lasts about a minute in `make test`. `make fuzz` runs it longer
(`FUZZ_MAX_EXAMPLES` cases per operation, and the stateful phase, which follows the schema's
links). Path parameters are pinned to objects that exist, so the cases reach the code behind
the 404s.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from bench.stack import ROOT, VENV_BIN
from tests.integration.live import Live, live_stack

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SEED = 20261124
# `make fuzz` raises these; the defaults keep `make test` to about a minute.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
PHASES = os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing")
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,negative_data_rejection"
)


@pytest.fixture
def live(tmp_path):
    with live_stack(tmp_path) as live:
        yield live


def seed(live: Live) -> dict[str, object]:
    """One object of each kind the paths address; returns their ids."""

    def send(method: str, path: str, body: Any = None) -> dict:
        response = requests.request(
            method, f"{live.api}{path}", json=body, headers=live.headers, timeout=30
        )
        assert response.status_code < 300, (path, response.text)
        return response.json()

    send("PUT", "/teams/t1", {"name": "Tier 1"})
    send("PUT", "/agents/a1", {"display_name": "Ann", "team": "t1"})
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    event = {
        "event_id": "e1",
        "type": "interaction",
        "agent": "a1",
        "answered": True,
        "occurred_at": (hour - timedelta(hours=1)).isoformat(),
        "talk_seconds": 60,
    }
    send("POST", "/events", {"events": [event]})
    job = requests.post(
        f"{live.api}/events/import",
        data=b'{"event_id": "e2"}\n',
        timeout=30,
        headers={**live.headers, "Content-Type": "application/x-ndjson"},
    ).json()
    rule = send(
        "POST",
        "/point-rules",
        {"name": "Per contact", "kpi": "contacts_handled", "kind": "per_unit", "points": 1},
    )
    send(
        "POST",
        "/badges",
        {"code": "b1", "name": "B1", "criteria": {"kind": "points", "points": 10}},
    )
    contest = send(
        "POST",
        "/contests",
        {
            "name": "Later",
            "metric": "contacts_handled",
            "starts_at": (hour + timedelta(days=30)).isoformat(),
            "ends_at": (hour + timedelta(days=30, hours=1)).isoformat(),
        },
    )
    reward = send("POST", "/rewards", {"name": "Mug", "cost": 1})
    send("POST", "/agents/a1/wallet/grants", {"amount": 1000, "reason": "seed"})
    redemption = send("POST", "/redemptions", {"agent": "a1", "reward": reward["id"]})
    hook = send("POST", "/webhooks", {"url": "https://hooks.example.com/in", "events": ["*"]})
    ping = send("POST", f"/webhooks/{hook['id']}/test")
    return {
        "webhook_id": hook["id"],
        "delivery_id": ping["id"],
        "job_id": job["id"],
        "rule_id": rule["id"],
        "contest_id": contest["id"],
        "reward_id": reward["id"],
        "redemption_id": redemption["id"],
    }


def config(ids: dict[str, object]) -> str:
    """schemathesis.toml: the seeded objects as path parameters, and the one deliberate
    exception to a check."""
    pinned: list[tuple[str, dict[str, object]]] = [
        ("^/api/v1/agents/", {"path.external_id": "a1", "path.code": "aht"}),
        ("^/api/v1/teams/", {"path.external_id": "t1", "path.code": "aht"}),
        ("^/api/v1/kpis/", {"path.code": "service_level"}),
        ("^/api/v1/badges/", {"path.code": "b1"}),
        ("^/api/v1/events/import/", {"path.job_id": ids["job_id"]}),
        ("^/api/v1/events/.*/void", {"path.event_id": "e1"}),
        ("^/api/v1/point-rules/", {"path.rule_id": ids["rule_id"]}),
        ("^/api/v1/contests/", {"path.contest_id": ids["contest_id"]}),
        ("^/api/v1/rewards/", {"path.reward_id": ids["reward_id"]}),
        ("^/api/v1/redemptions/", {"path.redemption_id": ids["redemption_id"]}),
        (
            "^/api/v1/webhooks/",
            {"path.endpoint_id": ids["webhook_id"], "path.delivery_id": ids["delivery_id"]},
        ),
    ]
    lines = []
    for regex, parameters in pinned:
        values = ", ".join(f'"{k}" = {json.dumps(v)}' for k, v in parameters.items())
        lines += [
            "[[operations]]",
            f'include-path-regex = "{regex}"',
            f"parameters = {{ {values} }}",
            "",
        ]
    # Deliberate: a batch with an invalid event is answered 202 with that event listed in
    # `rejected` (API.md, Events), not 400 — the batch's other events are stored.
    lines += [
        "[[operations]]",
        'include-path-regex = "^/api/v1/events$"',
        "checks.negative_data_rejection.expected-statuses = [202, 400, 401, 403, 413, 415]",
        "",
    ]
    return "\n".join(lines)


def test_schemathesis_finds_nothing(live, tmp_path):
    ids = seed(live)
    (tmp_path / "schemathesis.toml").write_text(config(ids))
    run = subprocess.run(
        [
            str(VENV_BIN / "st"),
            "--config-file",
            str(tmp_path / "schemathesis.toml"),
            "run",
            f"{live.base_url}/api/schema/",
            "--header",
            f"Authorization: Bearer {live.api_key}",
            "--checks",
            CHECKS,
            "--phases",
            PHASES,
            "--seed",
            str(SEED),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--generation-database",
            "none",
            "--workers",
            "2",
            "--request-timeout",
            "30",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=int(os.environ.get("FUZZ_TIMEOUT_SECONDS", "600")),
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.integration.schemathesis_hooks",
            "PYTHONPATH": str(ROOT),
        },
    )
    # Non-zero on any failure or error; the summary names each with a curl to reproduce it.
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:]
    print(run.stdout[-1500:])  # the summary (cases generated, time), shown with -s or -rP
