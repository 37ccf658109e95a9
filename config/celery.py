"""The Celery app: `celery -A config worker` and `celery -A config beat` start from here."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init, worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("gamify")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _require_secret_key(**kwargs: object) -> None:
    from config.guards import require_secret_key

    require_secret_key()


@worker_ready.connect
@worker_process_init.connect
def _freeze_loaded_objects(**kwargs: object) -> None:
    # A solo worker runs tasks in the process that got ready; prefork in its children.
    from config.memory import freeze_loaded_objects

    freeze_loaded_objects()
