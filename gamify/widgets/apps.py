from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WidgetsConfig(AppConfig):
    name = "gamify.widgets"
    label = "widgets"
    verbose_name = _("Widgets")

    def ready(self) -> None:
        from gamify.widgets import receivers  # noqa: F401 - connects the live-update bumps
