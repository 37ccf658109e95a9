from django.apps import AppConfig


class ActivityConfig(AppConfig):
    """The activity feed: awards and achievements, newest first; the outbox of webhooks."""

    name = "gamify.activity"
    label = "activity"
