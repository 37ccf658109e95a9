from celery import shared_task

from accounts.api.idempotency import idempotency_keys_purge


@shared_task(name="accounts.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> str:
    return f"purged {idempotency_keys_purge()}"
