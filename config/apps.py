from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConfigConfig(AppConfig):
    """The wiring: settings, URLs, the Celery app and the `run_periodic` command that drives it."""

    name = "config"
    verbose_name = _("Gamify")
