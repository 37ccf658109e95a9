from django.apps import AppConfig


class WalletConfig(AppConfig):
    """Coins: the append-only wallet ledger, the rewards catalogue and redemptions."""

    name = "gamify.wallet"
    label = "wallet"
