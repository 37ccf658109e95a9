from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContestsConfig(AppConfig):
    """Contests: ranked or target, agents or teams, with guardrails, prizes and a lifecycle."""

    name = "gamify.contests"
    label = "contests"
    verbose_name = _("Contests")
