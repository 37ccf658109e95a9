"""Start the embedded default (SQLite, in-process tasks, no Redis) as a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.stack import ROOT, free_port


@dataclass
class EmbeddedServer:
    base_url: str
    api_key: str
    env: dict[str, str]

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )


@contextmanager
def embedded_server(tmp_path: Path, *, threads: bool = True) -> Iterator[EmbeddedServer]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        API_RATE_LIMIT_PER_MINUTE="100000",
        WEBHOOKS_ALLOW_PRIVATE_NETWORKS="true",
        WEBHOOKS_ALLOW_HTTP="true",
    )
    server = EmbeddedServer(base_url="", api_key="", env=env)
    server.manage("migrate", "--noinput")
    out = server.manage("create_tenant", "--name", "Smoke", "--timezone", "UTC", "--json")
    server.api_key = json.loads(out.stdout.strip().splitlines()[-1])["api_key"]
    port = free_port()
    server.base_url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    if not threads:
        args.append("--nothreading")
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                stderr = process.stderr.read() if process.stderr else ""
                raise RuntimeError(f"embedded server did not start: {stderr}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
