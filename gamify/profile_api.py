"""GET /agents/{external_id}/profile: the read model of gamify/profile.py over HTTP."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from core.api.base import problems
from gamify.profile import agent_profile

# --- profile --------------------------------------------------------------------------------
ProfileOutput = inline_serializer(
    "AgentProfile",
    {
        "agent": serializers.CharField(),
        "display_name": serializers.CharField(),
        "team": serializers.CharField(allow_null=True),
        "points": inline_serializer(
            "ProfilePoints",
            {k: serializers.IntegerField() for k in ("lifetime", "day", "week", "month")},
        ),
        "level": inline_serializer(
            "ProfileLevel",
            {
                "number": serializers.IntegerField(),
                "name": serializers.CharField(),
                "min_points": serializers.IntegerField(),
                "next_min_points": serializers.IntegerField(allow_null=True),
                "points_to_next": serializers.IntegerField(allow_null=True),
            },
        ),
        "badges": inline_serializer(
            "ProfileBadge",
            {
                "code": serializers.CharField(),
                "name": serializers.CharField(),
                "icon": serializers.CharField(),
                "awarded_at": serializers.DateTimeField(),
            },
            many=True,
        ),
        "wallet": inline_serializer("ProfileWallet", {"balance": serializers.IntegerField()}),
        "ranks": inline_serializer(
            "ProfileRanks",
            {
                f"points_{k}": serializers.IntegerField(allow_null=True)
                for k in ("day", "week", "month")
            },
        ),
        "contests": inline_serializer(
            "ProfileContest",
            {
                "id": serializers.IntegerField(),
                "name": serializers.CharField(),
                "status": serializers.CharField(),
                "rank": serializers.IntegerField(allow_null=True),
                "value": serializers.FloatField(allow_null=True),
            },
            many=True,
        ),
    },
)


class AgentProfileApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="agents_profile",
        responses={200: ProfileOutput, **problems(404)},
        description="Points, level, latest badges, wallet, ranks and active contests.",
    )
    def get(self, request: Request, external_id: str) -> Response:
        agent = self.get_agent(external_id)
        return Response(agent_profile(tenant=self.tenant, agent=agent))
