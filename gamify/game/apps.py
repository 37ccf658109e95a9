from django.apps import AppConfig


class GameConfig(AppConfig):
    """Points rules and awards, manual adjustments, levels, badges, period finalization."""

    name = "gamify.game"
    label = "game"
