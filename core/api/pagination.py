"""Cursor pagination: `?limit=&cursor=` → `{"results": [...], "next": url | null}`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import InvalidInputError


def parse_limit(request: Request, default: int | None = None, maximum: int | None = None) -> int:
    """`?limit=` as a positive integer no larger than the maximum, or a 400 naming `limit`."""
    maximum = maximum or settings.API_MAX_PAGE_SIZE
    raw = request.query_params.get("limit")
    if raw is None:
        return default or settings.API_PAGE_SIZE
    # ASCII digits only: str.isdigit() also says yes to "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise InvalidInputError({"limit": f"Must be an integer from 1 to {maximum}."})
    return int(raw)


def limit_parameter(*, maximum: int, default: int) -> OpenApiParameter:
    """The OpenAPI `limit` query parameter of an operation that reads it with parse_limit."""
    return OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": maximum},
        description=f"How many, 1 to {maximum} (default {default}).",
    )


# The query parameters of every operation answering a cursor page ({"results", "next"}).
PAGE_PARAMETERS = [
    limit_parameter(maximum=settings.API_MAX_PAGE_SIZE, default=settings.API_PAGE_SIZE),
    OpenApiParameter("cursor", str, description="Opaque cursor from the previous page's `next`."),
]


class CursorPagination(pagination.CursorPagination):
    page_size_query_param = "limit"
    ordering = "-id"

    def get_page_size(self, request: Request) -> int:
        return parse_limit(request)

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise InvalidInputError({"cursor": "Invalid or expired cursor."}) from exc

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "Opaque cursor from the previous page's `next`.",
                "schema": {"type": "string"},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Page size, 1 to {settings.API_MAX_PAGE_SIZE}.",
                "schema": {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE},
            },
        ]
