"""Sending deliveries in this process without making the caller wait: the embedded default's
stand-in for the `webhooks` queue's workers.

With in-process tasks (no broker), a delivery used to be sent inside the request that wrote
its activity, right after the commit: a slow receiver made the API call slow. Instead, a few
daemon threads (WEBHOOKS_IN_PROCESS_THREADS) take the delivery ids from a bounded queue and
send them, each with its own database connection. Nothing is lost if the process exits, or if
the queue is full: the delivery row is already committed, and the sweeper (`run_periodic`'s
`gamify.webhooks_sweep`) sends whatever is still due, an abandoned lease once it expires.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

QUEUE_SIZE = 10_000

_lock = threading.Lock()
_queue: queue.Queue[int] = queue.Queue(maxsize=QUEUE_SIZE)
_threads: list[threading.Thread] = []


def enabled() -> bool:
    return int(settings.WEBHOOKS_IN_PROCESS_THREADS) > 0


def submit(ids: Iterable[int]) -> None:
    """Queue deliveries for the sending threads (started on first use); returns at once."""
    _start()
    for delivery_id in ids:
        try:
            _queue.put_nowait(delivery_id)
        except queue.Full:
            logger.warning("webhook delivery %s left to the sweeper: send queue full", delivery_id)


def _start() -> None:
    wanted = int(settings.WEBHOOKS_IN_PROCESS_THREADS)
    with _lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        while len(_threads) < wanted:
            thread = threading.Thread(
                target=_work, name=f"webhook-sender-{len(_threads)}", daemon=True
            )
            thread.start()
            _threads.append(thread)


def _work() -> None:
    # Imported here: the services import this module's caller (tasks), not the reverse.
    from gamify.webhooks.services import delivery_send

    while True:
        delivery_id = _queue.get()
        try:
            delivery_send(delivery_id=delivery_id)
        except Exception:  # one bad delivery must not stop the sender; the sweeper retries it
            logger.exception("webhook delivery %s failed to send", delivery_id)
        finally:
            connections.close_all()  # this thread's connections only
            _queue.task_done()


def wait_idle(timeout: float) -> bool:
    """Tests: wait until every queued delivery has been handled."""
    done = threading.Event()

    def join() -> None:
        _queue.join()
        done.set()

    threading.Thread(target=join, daemon=True).start()
    return done.wait(timeout)
