from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Holds the project-wide commands (run_periodic, rebuild) and templates."""

    name = "config"
    verbose_name = "Gamify"

    def ready(self) -> None:
        from config import (
            guards,  # noqa: F401  (registers the deploy check)
            lookups,  # noqa: F401  (registers field__any)
        )
