from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """The platform under every app: HTTP conventions, domain errors, Redis, bulk SQL, lookups,
    metrics and the process guards. It imports no Gamify app."""

    name = "core"
    verbose_name = _("Gamify platform")

    def ready(self) -> None:
        from core import (
            guards,  # noqa: F401  (registers the deploy check)
            lookups,  # noqa: F401  (registers field__any)
        )
        from core.api import schema  # noqa: F401  (registers the OpenAPI extensions)
