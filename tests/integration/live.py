"""A live production-mode stack for tests that speak to the API from outside, as a client
generated from the served OpenAPI schema does: gunicorn + a Celery worker + a private Redis,
on the test database (PostgreSQL)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from bench.stack import ROOT, Redis, Stack

_static_collected = False


def collect_static() -> None:
    """The production stack serves hashed static files (whitenoise's manifest, as the image's
    `collectstatic` builds it): without one, every page naming a static file is a 500. Collected
    into the git-ignored staticfiles/ once per test process, one process at a time (xdist)."""
    global _static_collected
    if _static_collected:
        return
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "collectstatic-for-tests"}
    with open(Path(tempfile.gettempdir()) / "gamify-collectstatic.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=300,
        )
    _static_collected = True


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
    collect_static()
    try:
        out = stack.manage("create_tenant", "--name", "Client", "--timezone", timezone, "--json")
        live = Live(stack=stack, api_key=json.loads(out.strip().splitlines()[-1])["api_key"])
        stack.start_web()
        stack.start_worker()
        yield live
    finally:
        stack.stop()
        redis.stop()
