"""Bad configuration stops start-up with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    clean.update({"SECRET_KEY": "x", **env})
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"DATABASE_URL": "mysqlx://u@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://u@localhost:notaport/db"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost:6379/0"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://localhost:port/0"}, "REDIS_URL"),
        ({"API_RATE_LIMIT_PER_MINUTE": "lots"}, "API_RATE_LIMIT_PER_MINUTE"),
        ({"DEBUG": "perhaps"}, "DEBUG"),
    ],
)
def test_bad_value_names_the_variable(env, name):
    result = start(**env)
    assert result.returncode != 0
    assert name in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


def test_serving_without_a_secret_key_refuses_to_start():
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    clean.update(SECRET_KEY="", DEBUG="false")
    result = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    deploy = start(SECRET_KEY="", DEBUG="false")  # `check`: fine; `check --deploy` names it
    assert deploy.returncode == 0, deploy.stderr
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=clean,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode != 0
    assert "SECRET_KEY" in checked.stderr


def test_good_values_start():
    result = start(DATABASE_URL="postgres://postgres@127.0.0.1:5432/gamify")
    assert result.returncode == 0, result.stderr
