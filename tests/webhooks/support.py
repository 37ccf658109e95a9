"""Helpers of the webhook tests: subscribe over the API, record activity the way the product
does (a manager's grant), drive retries forward in time, and the README's receiver code."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import time_machine
from django.utils import timezone

from gamify.webhooks.models import Delivery, Endpoint
from gamify.webhooks.tasks import webhooks_sweep

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verify() -> Any:
    """The `verify` function exactly as the README's Webhooks section shows it."""
    text = README.read_text()
    block = re.search(r"<!-- webhook-receiver -->\n```python\n(.*?)^```$", text, re.M | re.S)
    assert block, "the README's receiver code was not found"
    namespace: dict[str, Any] = {}
    exec(compile(block[1], "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace["verify"]


def subscribe(api: Any, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = api.post("/api/v1/webhooks", {"url": url, "events": events or ["*"]}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def grant(api: Any, commit: Any, *, agent: str = "a1", amount: int = 10) -> None:
    """A manager's grant over the API: it writes a `wallet.granted` activity."""
    response = commit(
        lambda: api.post(
            f"/api/v1/agents/{agent}/wallet/grants",
            {"amount": amount, "reason": "Great call"},
            format="json",
        )
    )
    assert response.status_code == 201, response.json()


def sweep_forward(commit: Any, *, step: timedelta, until: Any, limit: int = 200) -> int:
    """Move the clock on by `step` and run the sweeper, until `until()` holds."""
    moved = 0
    now = timezone.now()
    while not until():
        moved += 1
        assert moved <= limit, "the condition never held"
        now += step
        with time_machine.travel(now, tick=False):
            commit(lambda: webhooks_sweep.apply().get())
    return moved


def the_delivery(endpoint_id: int) -> Delivery:
    return Delivery.objects.get(endpoint_id=endpoint_id)


def endpoint(endpoint_id: int) -> Endpoint:
    return Endpoint.objects.get(pk=endpoint_id)
