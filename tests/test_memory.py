"""Web and Celery processes freeze what they load out of the garbage collector's way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from celery.signals import worker_process_init, worker_ready

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, json, sys
import config.wsgi
print(json.dumps({"frozen": gc.get_freeze_count(), "views": "kpis.api.views" in sys.modules}))
"""


def test_loading_the_wsgi_app_freezes_it_views_included():
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**env, "SECRET_KEY": "x"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["views"]  # imported before the freeze, not on the first request
    assert probe["frozen"] > 50_000  # Django, DRF, pydantic, our modules …


def test_a_celery_worker_freezes_when_ready_and_in_each_child():
    import config.celery  # noqa: F401 - connects the handlers

    for signal in (worker_ready, worker_process_init):
        names = [getattr(r[1](), "__name__", "") for r in signal.receivers]
        assert "_freeze_loaded_objects" in names
