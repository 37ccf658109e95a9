"""gamify's Celery tasks, for autodiscovery: the app `gamify` is the one Celery looks in for the
sub-packages that are not Django apps of their own (leaderboards)."""

from gamify.leaderboards.tasks import populate_board

__all__ = ["populate_board"]
