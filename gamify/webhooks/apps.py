from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Signed webhooks: endpoints, deliveries written with the activity (an outbox), attempts."""

    name = "gamify.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from gamify.webhooks import receivers  # noqa: F401  (subscribes to activities_recorded)
