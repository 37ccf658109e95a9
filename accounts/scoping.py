"""Where requests enter their tenant scope (core/tenancy.py), for the parts that are not
`TenantAPIView` (which enters its caller's tenant itself).

`TenantScopeMiddleware` gives every request a clean start and end: whatever scope a view
entered (a widget page, once its token names the tenant) ends with the request. In the admin
it enters the scope of the user's tenants, so that every query the admin makes of its own
(change lists, inlines, filters, choices of a foreign key) sees only those tenants' rows; a
superuser's admin is cross-tenant by design and runs with scopes disabled.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from core import tenancy


class TenantScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._admin_prefix: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with tenancy.no_scope():
            token = self._enter_admin(request)
            try:
                return self.get_response(request)
            finally:
                if token is not None:
                    tenancy.leave(token)

    def _enter_admin(self, request: HttpRequest) -> tenancy.ScopeToken | None:
        if self._admin_prefix is None:
            self._admin_prefix = reverse("admin:index")
        if not request.path.startswith(self._admin_prefix):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_staff:
            return None
        if user.is_superuser:
            return tenancy.enter_disabled()
        from accounts.admin import tenant_ids  # the admin's own (cached on the request)

        ids = tenant_ids(request)
        # A staff user of no tenant sees no tenant-owned row at all (an impossible id).
        return tenancy.enter(ids or {0})
