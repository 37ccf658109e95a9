from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GameTemplatesConfig(AppConfig):
    """A tenant's game configuration as one JSON document: export, import, bundled templates."""

    name = "gamify.game_templates"
    label = "game_templates"
    verbose_name = _("Game templates")

    def ready(self) -> None:
        from accounts.tenant_templates import register_tenant_template
        from gamify.game_templates.document import bundled_names, register_section, template_apply
        from gamify.game_templates.sections import BUILTIN

        for section in BUILTIN:
            register_section(section)
        for name in bundled_names():
            register_tenant_template(name, template_apply(name))
