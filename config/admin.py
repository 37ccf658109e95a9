"""The admin pages of the platform's own models (users, groups, beat schedules, login
attempts, ...) that other apps register.

Django's history page looks an object up before it checks permission, so a staff user with
no right to a model could tell an existing id (403) from a missing one (a redirect). Those
admins are registered again with the permission checked first, as the change and delete pages
already do. Tenant-owned models' admins (accounts, kpis, gamify) scope their own querysets.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class PermissionFirstAdmin(admin.ModelAdmin[Any]):
    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)


# The apps above `config` in INSTALLED_APPS have registered theirs by now.
for _model, _model_admin in list(admin.site._registry.items()):
    _class = type(_model_admin)
    admin.site.unregister(_model)
    admin.site.register(_model, type(_class.__name__, (PermissionFirstAdmin, _class), {}))
