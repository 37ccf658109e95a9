from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GameConfig(AppConfig):
    """Points rules and awards, manual adjustments, levels, badges, period finalization."""

    name = "gamify.game"
    label = "game"
    verbose_name = _("Game")
