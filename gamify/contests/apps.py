from django.apps import AppConfig


class ContestsConfig(AppConfig):
    """Contests: ranked or target, agents or teams, with guardrails, prizes and a lifecycle."""

    name = "gamify.contests"
    label = "contests"
