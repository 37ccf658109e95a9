from django.apps import AppConfig


class WidgetsConfig(AppConfig):
    name = "gamify.widgets"
    label = "widgets"
    verbose_name = "Widgets"

    def ready(self) -> None:
        from gamify.widgets import receivers  # noqa: F401 - connects the live-update bumps
