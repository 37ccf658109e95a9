"""The game document over HTTP: GET /game/export, POST /game/import (scope `manage`)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from core.api.base import problems
from gamify.game_templates.document import SECTIONS, game_export, game_import

DOCUMENT = (
    'One JSON object: `"format": "gamify.game/1"` and the sections `kpis`, '
    "`interaction_settings`, `point_rules`, `levels`, `badges`, `rewards`, "
    "`contest_templates` (README: Game templates)."
)


class GameExportApi(TenantAPIView):
    scopes = {"GET": "manage"}

    @extend_schema(
        operation_id="game_export",
        responses={200: OpenApiTypes.OBJECT, **problems()},
        description="The tenant's game configuration as one document. " + DOCUMENT,
    )
    def get(self, request: Request) -> Response:
        return Response(game_export(tenant=self.tenant))


class GameImportApi(TenantAPIView):
    scopes = {"POST": "manage"}

    @extend_schema(
        operation_id="game_import",
        request=OpenApiTypes.OBJECT,
        responses={
            200: inline_serializer(
                "GameImported",
                {
                    "imported": serializers.DictField(
                        child=serializers.IntegerField(), help_text="Items applied per section"
                    )
                },
            ),
            **problems(400),
        },
        description=(
            "Check the whole document, then apply it in one transaction, or nothing: a 400 "
            "names every error by its path in the document (`point_rules[2].kpi`). Items are "
            "matched by code or name and created or updated; the level table is replaced. "
            + DOCUMENT
        ),
    )
    def post(self, request: Request) -> Response:
        counts = game_import(tenant=self.tenant, document=request.data)
        return Response({"imported": {s.name: counts.get(s.name, 0) for s in SECTIONS}})


urlpatterns = [
    path("game/export", GameExportApi.as_view(), name="game-export"),
    path("game/import", GameImportApi.as_view(), name="game-import"),
]
