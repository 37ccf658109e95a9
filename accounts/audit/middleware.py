"""Carry each request to the services that record audit entries (see context.py)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.audit.context import acting_as


class ActorMiddleware:
    """Sets the audit actor to this request's caller, resolved when an entry is written: by
    then the admin's session user or the API's authenticated principal is `request.user`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting_as(request):
            return self.get_response(request)
