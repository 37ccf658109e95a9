from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WalletConfig(AppConfig):
    """Coins: the append-only wallet ledger, the rewards catalogue and redemptions."""

    name = "gamify.wallet"
    label = "wallet"
    verbose_name = _("Wallet")
