from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    """Append-only audit log of managers' and API clients' changes to the game."""

    name = "accounts.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from accounts.audit import context

        context.set_process_default_from_argv()
