"""gunicorn settings: `gunicorn -c config/gunicorn.py config.wsgi`."""

import os
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Requests are short and CPU-bound with brief Redis/PostgreSQL waits: one worker per core plus
# one to use the waits (measured on 2 cores: 3 workers serve ~10 % more than 4 or 5).
workers = int(os.environ.get("WEB_CONCURRENCY", str((os.cpu_count() or 1) + 1)))
# Threads per worker: gunicorn's gthread worker when > 1. A request spends much of its time
# waiting on PostgreSQL and Redis (a third of the web workers' samples in psycopg's wait under
# the soak, bench/soak.py); a sync worker sits idle meanwhile, a threaded one serves another
# request. Threads also keep clients' connections alive (`keepalive` seconds) where a sync
# worker closes each. Every thread holds its own database connection (CONN_MAX_AGE).
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# One line per request to stdout; GUNICORN_ACCESS_LOG="" turns it off (benchmarks).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
# Widget pages carry their token in the query string: the access log redacts it.
logger_class = "core.logs.GunicornLogger"


def child_exit(server: Any, worker: Any) -> None:
    # A dead worker's live gauges must not linger in the multiprocess metrics folder.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
