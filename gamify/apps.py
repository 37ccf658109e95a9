from django.apps import AppConfig


class GamifyConfig(AppConfig):
    """Points, levels, badges, contests, leaderboards, wallets, rewards, webhooks, widgets."""

    name = "gamify"
