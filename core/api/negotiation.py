"""Content negotiation for an API that speaks JSON only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

# What clients send when JSON is what they want (curl, wrk, browsers' fetch, SDKs).
PLAIN_ACCEPTS = frozenset({"", "*/*", "application/json", "application/*"})


class JSONContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, answered without parsing for the common `Accept` headers.

    Parsing the header against every renderer costs more than authenticating a cached key; the
    answer for the headers above is always the first renderer. Anything else (a `format`
    parameter, `text/html`, quality values) goes through DRF as before — an unacceptable type is
    still a 406.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: Any = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        accept = request.META.get("HTTP_ACCEPT", "").strip()
        if (
            accept in PLAIN_ACCEPTS
            and format_suffix is None
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            and renderers
            and renderers[0].media_type == "application/json"
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
