from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivityConfig(AppConfig):
    """The activity feed: awards and achievements, newest first; the outbox of webhooks."""

    name = "gamify.activity"
    label = "activity"
    verbose_name = _("Activity")
