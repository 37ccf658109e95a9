from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Tenants, managers, API keys, teams and agents, and the tenant edge of the API (who calls, for
    which tenant: auth, TenantAPIView, idempotency keys)."""

    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from accounts import receivers  # noqa: F401  (drops cached keys of a changed tenant)
        from accounts.api import schema  # noqa: F401  (registers the OpenAPI extensions)
