"""The beat scheduler: django-celery-beat's database scheduler, made to wait for the database
when it starts.

Once running, django-celery-beat rides out a database outage (it logs "Database gave error"
and tries again at the next tick). Starting is another matter: its schedule is read from the
database while the scheduler is built, and an error there ends `celery beat` with status 1 —
so a beat (re)started by its supervisor while PostgreSQL restarts or fails over would be gone,
and with it the sweeper and every finalization, until someone notices. Found by
tests/faults/test_postgres_restart.py.
"""

from __future__ import annotations

import logging
import time

from django.db import DatabaseError, connection
from django_celery_beat.schedulers import DatabaseScheduler

log = logging.getLogger(__name__)

# Between attempts while the database is away: long enough not to hammer a server that is
# starting, short enough that beat is back within seconds of it.
RETRY_SECONDS = (0.5, 1, 2, 5)


class WaitingDatabaseScheduler(DatabaseScheduler):
    """`DatabaseScheduler` that waits for the database before its first read of the schedule.

    Waiting comes first, rather than retrying the read: that read swallows some database
    errors itself and leaves the schedule half-built (`None`), which fails later on.
    """

    def setup_schedule(self) -> None:
        wait_for_database()
        super().setup_schedule()


def wait_for_database() -> None:
    attempt = 0
    while True:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return
        except DatabaseError as exc:
            wait = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            log.warning("beat: the database is unavailable (%s); trying again in %s s",
                        type(exc).__name__, wait)  # fmt: skip
            connection.close()
            time.sleep(wait)
            attempt += 1
