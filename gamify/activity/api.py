"""GET /activity: the feed of awards and achievements, newest first."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.selectors import team_descendants
from core.api.base import page_of, problems
from core.api.pagination import PAGE_PARAMETERS
from core.errors import InvalidInputError
from gamify.activity.models import ACTIVITY_TYPES, Activity
from gamify.activity.selectors import activity_list


class ActivityOutput(serializers.Serializer[Activity]):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=ACTIVITY_TYPES)
    agent = serializers.CharField(source="agent.external_id", allow_null=True, default=None)
    team = serializers.CharField(source="team.external_id", allow_null=True, default=None)
    occurred_at = serializers.DateTimeField()
    data = serializers.DictField()  # type: ignore[assignment]


class ActivityListApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="activity_list",
        parameters=[
            OpenApiParameter("agent", str, description="Only this agent's activity"),
            OpenApiParameter("team", str, description="This team's and its agents' (+ sub-teams)"),
            OpenApiParameter("types", str, description="Comma-separated types"),
            *PAGE_PARAMETERS,
        ],
        responses={200: page_of(ActivityOutput), **problems(400, 404)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        filters: dict[str, Any] = {}
        if self.principal.is_widget:
            filters["agent_id"] = self.principal.agent_id  # an agent's widget sees its own
        elif params.get("agent"):
            filters["agent_id"] = self.get_agent(params["agent"]).pk
        if params.get("team"):
            team = self.get_team(params["team"])
            filters["team_ids"] = team_descendants(tenant=self.tenant, team_id=team.pk)
        types = [t for t in (params.get("types") or "").split(",") if t]
        unknown = sorted(set(types) - set(ACTIVITY_TYPES))
        if unknown:
            raise InvalidInputError({"types": f"Unknown types: {', '.join(unknown)}."})
        feed = activity_list(tenant=self.tenant, types=types, **filters)
        return self.paginate(feed, ActivityOutput, ordering="-id")
