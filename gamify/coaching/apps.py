from django.apps import AppConfig


class CoachingConfig(AppConfig):
    """Coaching: scorecards, goals with progress, and managers' alerts."""

    name = "gamify.coaching"
    label = "coaching"
