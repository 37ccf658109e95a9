"""Shared fixtures: tenant → team → agent → API client, and an outsider tenant."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as settings_module
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import SCOPES, Tenant
from accounts.services import agent_upsert, api_key_create, team_upsert, tenant_create
from config.celery import app as celery_app
from core import tenancy
from core.redis import get_redis

# Test code may read any tenant's rows to assert them; the application code it calls may not
# (core/tenancy.py: outside a scope, a tenant-owned query without a tenant filter raises).
tenancy.exempt_callers(
    [str(Path(__file__).parent)], except_files=[str(Path(__file__).parent / "tenancy_probe.py")]
)


@pytest.fixture(autouse=True)
def _isolation(settings: Any) -> Iterator[None]:
    # Unit tests run Celery tasks in-process; tests/integration starts a real worker.
    celery_app.conf.task_always_eager = True
    # Their webhook deliveries are sent inline: a test's transaction is never committed, so the
    # embedded default's sending threads could not see them (tests/webhooks/test_embedded.py
    # and test_in_process.py run those threads).
    settings.WEBHOOKS_IN_PROCESS_THREADS = 0
    # Pages render without a collectstatic manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    clear_redis()
    yield
    clear_redis()
    forget_staging_tables()


def forget_staging_tables() -> None:
    """The ingest path marks a connection as holding its staging tables once the transaction
    that created them committed (kpis.buckets._ensure_staging). Tests run such on-commit
    callbacks inside a transaction that is then rolled back, taking the tables with it."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        raw = conn.connection
        if raw is not None and hasattr(raw, "gamify_staging"):
            del raw.gamify_staging


def clear_redis() -> None:
    """Delete this test worker's keys (cache and live boards) — never the whole database,
    which parallel workers share — and the process's own copies of API keys."""
    from accounts.api import auth

    auth._local_keys.clear()
    cache.clear() if not settings_module.REDIS_URL else cache.delete_pattern("*")  # type: ignore[attr-defined]
    client = get_redis()
    if client is not None:
        try:
            keys = list(client.scan_iter(f"{settings_module.REDIS_KEY_PREFIX}:*", count=1000))
            if keys:
                client.delete(*keys)
        except redis.ConnectionError:
            pass  # a test pointed REDIS_URL at a dead server on purpose


@pytest.fixture
def tenant(db: None) -> Tenant:
    return tenant_create(name="Acme Support", timezone_name="Asia/Shanghai", slug="acme")


@pytest.fixture
def outsider(db: None) -> Tenant:
    return tenant_create(name="Outsider Inc", timezone_name="Europe/Berlin", slug="outsider")


@pytest.fixture
def make_client() -> Callable[..., APIClient]:
    def make(tenant: Tenant, scopes: tuple[str, ...] = SCOPES) -> APIClient:
        _, raw = api_key_create(tenant=tenant, scopes=scopes, name="test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture
def api(tenant: Tenant, make_client: Callable[..., APIClient]) -> APIClient:
    """A client with an API key of `tenant` holding every scope."""
    return make_client(tenant)


@pytest.fixture
def outsider_api(outsider: Tenant, make_client: Callable[..., APIClient]) -> APIClient:
    return make_client(outsider)


@pytest.fixture
def team(tenant: Tenant) -> Any:
    team, _ = team_upsert(tenant=tenant, external_id="t1", name="Tier 1", parent_external_id=None)
    return team


@pytest.fixture
def agent(tenant: Tenant, team: Any) -> Any:
    agent, _ = agent_upsert(
        tenant=tenant, external_id="a1", display_name="Ann Lee", team_external_id="t1"
    )
    return agent


@pytest.fixture
def commit(django_capture_on_commit_callbacks: Any) -> Callable[[Callable[[], Any]], Any]:
    """Run a call and then the on-commit hooks it registered (tests run inside a transaction
    that never commits, so enqueued tasks would otherwise never run)."""

    def run(call: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


@pytest.fixture
def count_queries() -> Callable[[Callable[[], Any]], int]:
    def count(call: Callable[[], Any]) -> int:
        with CaptureQueriesContext(connection) as ctx:
            call()
        return len(ctx.captured_queries)

    return count


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for a module's browser tests (tests/chromium.py)."""
    from tests.chromium import launched  # Playwright only where a test asks for a browser

    with launched() as chromium:
        yield chromium
