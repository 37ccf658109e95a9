from django.apps import AppConfig


class GamifyConfig(AppConfig):
    """Points, levels, badges, contests, leaderboards, wallets, rewards, webhooks, widgets."""

    name = "gamify"

    def ready(self) -> None:
        from gamify import receivers  # noqa: F401  (subscribes to kpis.signals, agent saves)
