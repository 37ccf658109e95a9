"""The Celery app: `celery -A config worker` and `celery -A config beat` start from here."""

import os
import threading
from typing import Any

from celery import Celery
from celery.signals import (
    beat_init,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("gamify")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _require_secret_key(**kwargs: object) -> None:
    from core.guards import require_secret_key

    require_secret_key()


@worker_ready.connect
@worker_process_init.connect
def _freeze_loaded_objects(**kwargs: object) -> None:
    # A solo worker runs tasks in the process that got ready; prefork in its children.
    from core.memory import freeze_loaded_objects

    freeze_loaded_objects()


_stop_announcing = threading.Event()


@worker_ready.connect
def _announce_queues(sender: Any = None, **kwargs: object) -> None:
    # /readyz warns about queued work that no worker consumes (core/queues.py).
    from core.queues import keep_announcing

    queues = sorted(app.amqp.queues.consume_from or app.amqp.queues)
    keep_announcing(queues, _stop_announcing)


@worker_shutdown.connect
def _stop_announcing_queues(**kwargs: object) -> None:
    _stop_announcing.set()


@task_prerun.connect
def _enter_task_tenant(
    task_id: str = "", task: Any = None, args: Any = None, kwargs: Any = None, **extra: object
) -> None:
    # Fail-closed tenancy (core/tenancy.py): a task re-enters the tenant of its `tenant_id`.
    from core import tenancy

    tenancy.task_started(task_id, task, args, kwargs)


@task_postrun.connect
def _leave_task_tenant(task_id: str = "", **extra: object) -> None:
    from core import tenancy

    tenancy.task_finished(task_id)
