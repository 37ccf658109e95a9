"""gunicorn settings: `gunicorn -c config/gunicorn.py config.wsgi`."""

import os
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
accesslog = "-"


def child_exit(server: Any, worker: Any) -> None:
    # A dead worker's live gauges must not linger in the multiprocess metrics folder.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
