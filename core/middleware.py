"""Request guards, and Django's page middleware skipped on the JSON API where it has nothing
to do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.core.validators import ProhibitNullCharactersValidator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware as _CsrfViewMiddleware
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

API_PREFIX = "/api/"
NUL = "\x00"


class NullCharacterMiddleware:
    """A NUL character in the path or a query parameter is a 400 naming where it is.

    PostgreSQL text cannot hold NUL, so such a value would otherwise fail as a database error
    (a 500) in whichever lookup it reached first. Request headers need no check: the HTTP
    server refuses a NUL there, and JSON bodies are validated field by field.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A NUL reaches the query string percent-encoded; the decoded path holds it as is.
        if NUL in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            where = self.where(request)
            if where is not None:
                return self.refuse(request, where)
        return self.get_response(request)

    @staticmethod
    def where(request: HttpRequest) -> str | None:
        if NUL in request.path:
            return "path"
        for name, values in request.GET.lists():
            if NUL in name or any(NUL in value for value in values):
                return name.replace(NUL, "\\0") or "query"
        return None

    @staticmethod
    def refuse(request: HttpRequest, where: str) -> HttpResponse:
        message = str(ProhibitNullCharactersValidator.message)  # as for fields in a body
        if not request.path_info.startswith(API_PREFIX):
            return HttpResponseBadRequest(f"{where}: {message}", content_type="text/plain")
        from core.api.problems import problem_response

        return problem_response(400, f"{where}: {message}", errors={where: [message]})


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


# The pages whose language follows the manager (the admin, and Django's set_language view
# that its language menu posts to).
LOCALIZED_PREFIXES = ("/admin/", "/i18n/")


class AdminLocaleMiddleware(LocaleMiddleware):
    """The admin speaks the manager's language: the one chosen in its language menu (a
    cookie), else the browser's Accept-Language, among settings.LANGUAGES.

    The API stays in LANGUAGE_CODE whatever a client's Accept-Language says (its messages are
    a contract, documented in English), and the widgets pick their own language per page (the
    agent's locale, `?lang=`), so only the admin's paths negotiate."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(LOCALIZED_PREFIXES):
            super().process_request(request)
            return
        # A thread keeps the language it last activated: reset it for every other request.
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path_info.startswith(LOCALIZED_PREFIXES):
            return super().process_response(request, response)
        return response
