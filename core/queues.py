"""Which Celery queues have a worker: workers say so in Redis, /readyz warns about work that
waits on a queue nobody consumes (a worker started with the wrong -Q, or none at all)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import redis
from django.conf import settings

from core.redis import get_redis, redis_key

log = logging.getLogger(__name__)

BEAT_SECONDS = 15
# A worker's word holds this long: four beats, so one slow beat is not a false alarm.
HOLD_SECONDS = 4 * BEAT_SECONDS


def declared_queues() -> list[str]:
    return [queue.name for queue in settings.CELERY_TASK_QUEUES]


def consumer_key(queue: str) -> str:
    return redis_key("consumers", queue)


def announce_consumer(queues: Iterable[str]) -> None:
    """Say, for a while, that a worker consumes these queues."""
    client = get_redis()
    if client is None:
        return
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.set(consumer_key(queue), "1", ex=HOLD_SECONDS)
    pipe.execute()


def keep_announcing(queues: list[str], stop: threading.Event) -> threading.Thread:
    """Announce the worker's queues now and every BEAT_SECONDS until `stop` is set."""

    def beat() -> None:
        while True:
            try:
                announce_consumer(queues)
            except redis.RedisError:
                log.warning("Could not tell Redis which queues this worker consumes")
            if stop.wait(BEAT_SECONDS):
                return

    thread = threading.Thread(target=beat, name="gamify-consumer-beat", daemon=True)
    thread.start()
    return thread


def unconsumed_work() -> list[str]:
    """Warnings for queues that hold tasks while no worker has said it consumes them."""
    client = get_redis()
    if client is None or settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    queues = declared_queues()
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)  # kombu's Redis transport keeps a queue as a list of that name
        pipe.exists(consumer_key(queue))
    replies = pipe.execute()
    warnings = []
    for queue, waiting, consumed in zip(queues, replies[::2], replies[1::2], strict=True):
        if waiting and not consumed:
            warnings.append(
                f"queue {queue!r} holds {waiting} tasks and no worker consumes it: start "
                f"`celery -A config worker` (all queues) or add {queue} to a worker's -Q"
            )
    return warnings
