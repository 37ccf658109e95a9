"""Webhook tests deliver to a receiver thread on loopback over plain HTTP, as `make run`
allows; the SSRF tests turn the allowance off again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.webhooks.receiver import Receiver, receiving


@pytest.fixture(autouse=True)
def _local_receivers(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_TIMEOUT_SECONDS = 5


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r
