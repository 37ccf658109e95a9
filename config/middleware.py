"""Django's page middleware, skipped on the JSON API where it has nothing to do."""

from __future__ import annotations

from typing import Any

from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware as _CsrfViewMiddleware

API_PREFIX = "/api/"


class _PagesOnly:
    """Run the wrapped middleware's request step for pages only, never for /api/ requests."""

    def process_request(self, request: HttpRequest) -> Any:
        if not request.path_info.startswith(API_PREFIX):
            return super().process_request(request)  # type: ignore[misc]
        return None


class MessageMiddleware(_PagesOnly, _MessageMiddleware):
    """Flash messages are for the admin's pages. Setting up their storage builds a cookie
    signer and a session store on every request (~2 % of a live board read); the API never
    shows a message, so API requests get none (and, with no storage, nothing to save)."""


class CsrfViewMiddleware(_PagesOnly, _CsrfViewMiddleware):
    """API views are csrf_exempt: DRF checks CSRF itself, and only for session-authenticated
    requests (SessionAuthentication runs Django's check on its own). Reading the CSRF cookie
    for every API request was work nobody used."""
