from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoachingConfig(AppConfig):
    """Coaching: scorecards, goals with progress, and managers' alerts."""

    name = "gamify.coaching"
    label = "coaching"
    verbose_name = _("Coaching")
