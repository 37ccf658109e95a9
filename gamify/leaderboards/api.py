"""GET /leaderboards."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from core.api.base import problems
from core.api.pagination import limit_parameter, parse_limit
from core.errors import InvalidInputError
from gamify.leaderboards.service import leaderboard
from kpis.api.views import PERIOD_PARAMETERS, PeriodOutput
from kpis.periods import parse_period

MAX_LIMIT = 100


class LeaderboardEntry(serializers.Serializer[dict[str, object]]):
    rank = serializers.IntegerField()
    agent = serializers.CharField(required=False, help_text="entity=agent")
    team = serializers.CharField(required=False, help_text="entity=team")
    display_name = serializers.CharField()
    value = serializers.FloatField()
    volume = serializers.FloatField()


class NotQualifiedEntry(serializers.Serializer[dict[str, object]]):
    agent = serializers.CharField(required=False, help_text="entity=agent")
    team = serializers.CharField(required=False, help_text="entity=team")
    display_name = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    volume = serializers.FloatField()
    reason = serializers.CharField()


class LeaderboardOutput(serializers.Serializer[dict[str, object]]):
    metric = serializers.CharField()
    period = PeriodOutput()
    entries = LeaderboardEntry(many=True)
    around = LeaderboardEntry(many=True)
    not_qualified = NotQualifiedEntry(many=True)


class LeaderboardApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="leaderboards",
        parameters=[
            OpenApiParameter("metric", str, description="points (default) or a KPI code"),
            *PERIOD_PARAMETERS,
            OpenApiParameter("scope", str, description="tenant (default) or team:<external id>"),
            OpenApiParameter("entity", str, enum=["agent", "team"]),
            limit_parameter(maximum=MAX_LIMIT, default=10),
            OpenApiParameter("around", str, description="An agent: its rank and neighbours"),
        ],
        responses={200: LeaderboardOutput, **problems(400, 404)},
        description=(
            "Ranks honour the KPI's direction; ties share a rank (1, 2, 2, 4) and are listed by "
            "higher volume, then display name. Entities under the minimum volume are listed in "
            "not_qualified; entities without activity and inactive agents are left out. For "
            "points, volume is the points. Current day, week and month boards are served live "
            "from Redis."
        ),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        entity = params.get("entity", "agent")
        if entity not in ("agent", "team"):
            raise InvalidInputError({"entity": "Must be agent or team."})
        around = params.get("around") or None
        if around is not None and self.principal.is_widget:
            self.get_agent(around)  # a widget token asks around its own agent only
        board = leaderboard(
            tenant=self.tenant,
            metric=params.get("metric") or "points",
            period=parse_period(params, self.tenant),
            scope=params.get("scope") or "tenant",
            entity=entity,
            limit=parse_limit(request, default=10, maximum=MAX_LIMIT),
            around=around,
        )
        if around is not None and not board["around"]:
            self.get_agent(around)  # not on the board: a 404 if no such agent at all
        # Where the answer came from: the live board in Redis, or SQL over the buckets.
        return Response(board, headers={"X-Gamify-Source": board.pop("source")})
