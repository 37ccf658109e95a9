"""Content-Security-Policy for the pages we render (admin, docs, widgets), not for JSON; the
admin login's lockout (django-axes)."""

from __future__ import annotations

import math
from typing import Any

from csp.middleware import CSPMiddleware as _CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render


class CSPMiddleware(_CSPMiddleware):
    """django-csp, skipping the policy's excluded URL prefixes before any work.

    django-csp 4 builds the header (and its report-only twin) for every response and only then
    checks `EXCLUDE_URL_PREFIXES`; on the API that is ~50 µs per request spent on a header that
    is thrown away.
    """

    def _excluded(self, request: HttpRequest) -> bool:
        prefixes = settings.CONTENT_SECURITY_POLICY.get("EXCLUDE_URL_PREFIXES") or ()
        return request.path_info.startswith(tuple(prefixes))

    def process_request(self, request: HttpRequest) -> None:
        if not self._excluded(request):
            super().process_request(request)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if self._excluded(request):
            return response
        return super().process_response(request, response)


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address, for counting failed admin logins (django-axes).

    Only the entries our own proxies appended to X-Forwarded-For are trusted: a client can
    send any X-Forwarded-For it likes, so the left-most entry proves nothing.
    """
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= count:
            return forwarded[-count]
    address = request.META.get("REMOTE_ADDR")
    return str(address) if address else None


def login_locked(
    request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer to a refused admin login: 429, `Retry-After`, and a page in the
    admin's look saying why and for how long."""
    wait = settings.AXES_COOLOFF_TIME
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    page = render(
        request,
        "admin/login_locked.html",
        {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes},
        status=429,
    )
    page["Retry-After"] = str(int(wait.total_seconds()))
    return page
