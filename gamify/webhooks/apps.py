from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    """Signed webhooks: endpoints, deliveries written with the activity (an outbox), attempts."""

    name = "gamify.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from gamify.webhooks import receivers  # noqa: F401  (subscribes to activities_recorded)
