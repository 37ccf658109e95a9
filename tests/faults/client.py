"""A small HTTP client for the fault tests, and the figures they compare."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

# A request that takes longer than this is a hang: the tests fail on it.
TIMEOUT = 20


@dataclass
class Api:
    base_url: str
    key: str
    slug: str

    last_status: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.key}"

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(f"{self.api}{path}", params=params, timeout=TIMEOUT)

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.session.post(f"{self.api}{path}", json=body, timeout=TIMEOUT)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.session.put(f"{self.api}{path}", json=body, timeout=TIMEOUT)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.session.patch(f"{self.api}{path}", json=body, timeout=TIMEOUT)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.get(path) if method == "get" else getattr(self, method)(path, body)
        assert response.status_code in (200, 201, 202), (path, response.status_code, response.text)
        return response.json()

    def status(self) -> dict[str, Any]:
        response = self.get("/ingest/status")
        response.raise_for_status()
        return dict(response.json())

    def settled(self) -> bool:
        """Nothing pending, nothing set aside, no recompute owed."""
        status = self.last_status = self.status()
        return status["pending"] == 0 and status["failed"] == 0 and not status["recomputing"]

    def board(self, metric: str, period: str = "day") -> requests.Response:
        return self.get("/leaderboards", metric=metric, period=period, limit=100)


def interaction(event_id: str, agent: str, occurred_at: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": "interaction", "occurred_at": occurred_at,
            "agent": agent, "answered": True, "talk_seconds": 100, "wait_seconds": 5,
            **fields}  # fmt: skip


# One point per contact handled: the rule most fault tests count by hand.
PER_CONTACT_RULE = {"name": "1 per contact", "kpi": "contacts_handled", "kind": "per_unit",
                    "points": 1, "period": "day"}  # fmt: skip


def board_rows(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What a board shows: each entry's rank, agent, value and volume."""
    return [(e["rank"], e["agent"], e["value"], e["volume"]) for e in body["entries"]]


def wait_for(check: Any, *, timeout: float, what: str, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = exc
        time.sleep(every)
    if last is False and hasattr(getattr(check, "__self__", None), "last_status"):
        last = check.__self__.last_status  # what the API said when we gave up
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
