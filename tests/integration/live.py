"""A live production-mode stack for tests that speak to the API from outside, as a client
generated from the served OpenAPI schema does: gunicorn + a Celery worker + a private Redis,
on the test database (PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from bench.stack import Redis, Stack


@dataclass
class Live:
    stack: Stack
    api_key: str

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    @property
    def api(self) -> str:
        return f"{self.stack.base_url}/api/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def live_stack(
    workdir: Path, *, timezone: str = "Asia/Shanghai", log_dir: Path | None = None, **env: str
) -> Iterator[Live]:
    """`log_dir`: gunicorn's and the worker's output (access log, every log line at the level
    the settings give) lands in files there (`Stack.logs()`); `env` adds to the processes'."""
    redis = Redis(workdir)
    redis.start()
    stack = Stack(database_url(), redis)
    stack.env.update(env)
    stack.log_dir = log_dir
    try:
        out = stack.manage("create_tenant", "--name", "Client", "--timezone", timezone, "--json")
        live = Live(stack=stack, api_key=json.loads(out.strip().splitlines()[-1])["api_key"])
        stack.start_web()
        stack.start_worker()
        yield live
    finally:
        stack.stop()
        redis.stop()
