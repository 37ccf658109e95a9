"""Templates a new tenant can start from (`create_tenant --template NAME`).

accounts knows no game: apps above it register what a template applies (gamify.game_templates
registers its bundled documents, e.g. "starter") and create_tenant looks the name up here.
"""

from __future__ import annotations

from collections.abc import Callable

from accounts.models import Tenant

TenantTemplate = Callable[[Tenant], None]
_templates: dict[str, TenantTemplate] = {}


def register_tenant_template(name: str, apply: TenantTemplate) -> None:
    _templates[name] = apply


def tenant_template(name: str) -> TenantTemplate | None:
    return _templates.get(name)


def tenant_template_names() -> list[str]:
    return sorted(_templates)
