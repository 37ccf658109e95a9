"""The activity feed's one hook: `activities_recorded`, the outbox of webhooks.

Sent by `activities_record` inside the transaction that wrote the rows, with exactly the rows
that went in (a retried task's repeat of a key sends nothing). A receiver that writes rows of
its own (webhook deliveries) therefore commits or rolls back together with the activity, and
must not do I/O there: it schedules that with `transaction.on_commit`.

Keyword arguments: `tenant_id: int`, `activities: list[Activity]` (with ids).
"""

from django.dispatch import Signal

activities_recorded = Signal()
