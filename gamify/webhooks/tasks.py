"""The webhooks queue's tasks (routed to `webhooks` by CELERY_TASK_ROUTES)."""

from __future__ import annotations

from collections.abc import Iterable

from celery import current_app, shared_task

from gamify.webhooks import background, services


@shared_task(name="gamify.webhook_deliver", acks_late=True)
def webhook_deliver(delivery_id: int) -> str:
    return services.delivery_send(delivery_id=delivery_id)


@shared_task(name="gamify.webhooks_sweep", acks_late=True)
def webhooks_sweep() -> str:
    ids = services.deliveries_sweep()
    enqueue_deliveries(ids)
    return f"{len(ids)} enqueued"


@shared_task(name="gamify.webhooks_purge", acks_late=True)
def webhooks_purge() -> str:
    return f"{services.deliveries_purge()} purged"


def enqueue_deliveries(ids: Iterable[int]) -> None:
    """To the `webhooks` queue; with in-process tasks (the embedded default), to this process's
    sending threads, so the request or job that wrote them never waits on a receiver."""
    if current_app.conf.task_always_eager and background.enabled():
        background.submit(ids)
        return
    for delivery_id in ids:
        webhook_deliver.delay(delivery_id)
