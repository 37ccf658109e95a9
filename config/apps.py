from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The wiring: settings, URLs, the Celery app and the `run_periodic` command that drives it."""

    name = "config"
    verbose_name = "Gamify"
