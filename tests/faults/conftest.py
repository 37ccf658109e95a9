"""Fixtures for the fault-injection tests: real processes (gunicorn, Celery worker and beat,
a private redis-server, a throw-away PostgreSQL cluster) that each test may kill, stop and
restart. Every process is ended and every folder removed by a finalizer, also when the test
fails; every wait has a timeout. Ports are free ports and folders are per test, so the tests
run side by side under pytest-xdist."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.stack import Postgres, Redis, Stack
from tests.faults.client import Api
from tests.integration.live import database_url


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_cluster() -> Iterator[Postgres]:
    cluster = Postgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def make_stack() -> Iterator[Callable[..., Stack]]:
    """Stacks (gunicorn + workers + beat) on the test database unless told another; each is
    stopped at the end, whatever the test did to it."""
    stacks: list[Stack] = []

    def make(redis: Redis, *, database: str | None = None, **options: object) -> Stack:
        web_workers = int(options.pop("web_workers", 2))  # type: ignore[call-overload]
        env = {k: str(v) for k, v in options.items()}
        stack = Stack(database or database_url(), redis, web_workers=web_workers, **env)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


def tenant_api(stack: Stack, *, name: str, timezone: str = "UTC") -> Api:
    out = stack.manage("create_tenant", "--name", name, "--timezone", timezone, "--json")
    created = json.loads(out.strip().splitlines()[-1])
    return Api(stack.base_url, created["api_key"], slug=created["tenant"])
