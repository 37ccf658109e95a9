"""Teams, agents and widget tokens over HTTP (API.md: Teams and agents, Widgets)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api.auth import widget_token_mint
from accounts.api.base import TenantAPIView
from accounts.models import Agent, Team
from core.api.base import (
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
    check_raw_length,
    page_of,
    problems,
    request_data,
)
from core.api.pagination import PAGE_PARAMETERS
from core.errors import InvalidInputError


class ExternalIdMixin:
    @staticmethod
    def check_external_id(external_id: str) -> None:
        errors = services.external_id_errors(external_id)
        if errors:
            raise InvalidInputError({"external_id": errors})


class TeamOutput(serializers.Serializer[Team]):
    external_id = serializers.CharField()
    name = serializers.CharField()
    parent = serializers.CharField(  # type: ignore[assignment]
        source="parent.external_id", allow_null=True, default=None
    )


class TeamInput(StrictSerializer):
    name = StrictCharField(max_length=200)
    parent = StrictCharField(  # type: ignore[assignment]
        max_length=128, allow_null=True, default=None
    )


class AgentOutput(serializers.Serializer[Agent]):
    external_id = serializers.CharField()
    display_name = serializers.CharField()
    team = serializers.CharField(source="team.external_id", allow_null=True, default=None)
    active = serializers.BooleanField()
    locale = serializers.ChoiceField(choices=Agent.Locale.choices)
    avatar_url = serializers.URLField(allow_null=True)
    created_at = serializers.DateTimeField()


class HttpsUrlField(serializers.URLField):
    default_error_messages = {**serializers.URLField.default_error_messages}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        check_raw_length(self, data)
        value = str(super().to_internal_value(data))
        if not value.lower().startswith("https://"):
            raise serializers.ValidationError("Must be an https:// URL.")
        return value


class AgentInput(StrictSerializer):
    display_name = StrictCharField(max_length=200)
    team = StrictCharField(max_length=128, allow_null=True, default=None)
    active = StrictBooleanField(default=True)
    locale = serializers.ChoiceField(choices=Agent.Locale.values, default=Agent.Locale.EN)
    avatar_url = HttpsUrlField(max_length=500, allow_null=True, default=None)


class TeamListApi(TenantAPIView):
    @extend_schema(
        operation_id="teams_list",
        parameters=[
            OpenApiParameter("parent", str, description="Only the children of this team"),
            *PAGE_PARAMETERS,
        ],
        responses={200: page_of(TeamOutput), **problems(400)},
    )
    def get(self, request: Request) -> Response:
        teams = selectors.team_list(tenant=self.tenant, parent=request.query_params.get("parent"))
        return self.paginate(teams, TeamOutput, ordering="external_id")


class TeamDetailApi(ExternalIdMixin, TenantAPIView):
    @extend_schema(operation_id="teams_retrieve", responses={200: TeamOutput, **problems(404)})
    def get(self, request: Request, external_id: str) -> Response:
        team = self.get_team(external_id)
        return Response(TeamOutput(team).data)

    @extend_schema(
        operation_id="teams_upsert",
        request=TeamInput,
        responses={200: TeamOutput, 201: TeamOutput, **problems(400, 413, 415)},
        description="Create (201) or replace (200) the team with this external id.",
    )
    def put(self, request: Request, external_id: str) -> Response:
        self.check_external_id(external_id)
        data = TeamInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        team, created = services.team_upsert(
            tenant=self.tenant,
            external_id=external_id,
            name=data.validated_data["name"],
            parent_external_id=data.validated_data["parent"],
        )
        return Response(
            TeamOutput(team).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class AgentListApi(TenantAPIView):
    @extend_schema(
        operation_id="agents_list",
        parameters=[
            OpenApiParameter("team", str, description="Agents currently in this team"),
            OpenApiParameter("active", bool, description="true or false"),
            *PAGE_PARAMETERS,
        ],
        responses={200: page_of(AgentOutput), **problems(400)},
    )
    def get(self, request: Request) -> Response:
        active_param = request.query_params.get("active")
        if active_param not in (None, "true", "false"):
            raise InvalidInputError({"active": "Must be true or false."})
        agents = selectors.agent_list(
            tenant=self.tenant,
            team=request.query_params.get("team"),
            active=None if active_param is None else active_param == "true",
        )
        return self.paginate(agents, AgentOutput, ordering="external_id")


class AgentDetailApi(ExternalIdMixin, TenantAPIView):
    widget_access = True

    @extend_schema(operation_id="agents_retrieve", responses={200: AgentOutput, **problems(404)})
    def get(self, request: Request, external_id: str) -> Response:
        return Response(AgentOutput(self.get_agent(external_id)).data)

    @extend_schema(
        operation_id="agents_upsert",
        request=AgentInput,
        responses={200: AgentOutput, 201: AgentOutput, **problems(400, 413, 415)},
        description="Create (201) or replace (200) the agent with this external id.",
    )
    def put(self, request: Request, external_id: str) -> Response:
        self.check_external_id(external_id)
        data = AgentInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        values = data.validated_data
        agent, created = services.agent_upsert(
            tenant=self.tenant,
            external_id=external_id,
            display_name=values["display_name"],
            team_external_id=values["team"],
            active=values["active"],
            locale=values["locale"],
            avatar_url=values["avatar_url"],
        )
        return Response(
            AgentOutput(agent).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="agents_deactivate",
        responses={204: None, **problems(404)},
        description="Deactivate the agent: kept with its history, left out of leaderboards.",
    )
    def delete(self, request: Request, external_id: str) -> Response:
        services.agent_deactivate(agent=self.get_agent(external_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WidgetTokenInput(StrictSerializer):
    agent = StrictCharField(
        max_length=128, required=False, help_text="An agent's external id: its widgets"
    )
    team = StrictCharField(
        max_length=128,
        required=False,
        help_text="A team's external id: its wallboard (no agent's wallet, no API endpoint)",
    )
    ttl_seconds = StrictIntegerField(
        min_value=60, max_value=settings.WIDGET_TOKEN_MAX_TTL_SECONDS, default=3600
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("agent" in attrs) == ("team" in attrs):
            raise serializers.ValidationError(
                {"agent": ["Give exactly one of agent (its widgets) or team (its wallboard)."]}
            )
        return attrs


class WidgetTokenCreateApi(TenantAPIView):
    scopes = {"POST": "read"}

    @extend_schema(
        operation_id="widget_tokens_create",
        request=WidgetTokenInput,
        responses={
            201: inline_serializer(
                "WidgetToken",
                {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()},
            ),
            **problems(400, 404),
        },
        description=(
            "Mint a short-lived, read-only token: `agent` for one agent's widgets (card, "
            "leaderboard, store), or `team` for the team's wallboard."
        ),
    )
    def post(self, request: Request) -> Response:
        data = WidgetTokenInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        ttl = data.validated_data["ttl_seconds"]
        if "team" in data.validated_data:
            team = self.get_team(data.validated_data["team"])
            token, expires = widget_token_mint(team=team, ttl_seconds=ttl)
        else:
            agent = self.get_agent(data.validated_data["agent"])
            if not agent.active:
                raise InvalidInputError({"agent": "The agent is inactive."})
            token, expires = widget_token_mint(agent=agent, ttl_seconds=ttl)
        return Response(
            {"token": token, "expires_at": datetime.fromtimestamp(expires, tz=UTC).isoformat()},
            status=status.HTTP_201_CREATED,
        )


class WhoAmIOutput(serializers.Serializer[dict[str, Any]]):
    tenant = serializers.CharField(help_text="The tenant's slug")
    name = serializers.CharField()
    timezone = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())


class WhoAmIApi(TenantAPIView):
    """Which tenant and scopes a credential stands for: a cheap check of a key's set-up."""

    scopes = {"GET": None}
    widget_access = True

    @extend_schema(operation_id="whoami", responses={200: WhoAmIOutput, **problems()})
    def get(self, request: Request) -> Response:
        tenant = self.tenant
        return Response(
            {
                "tenant": tenant.slug,
                "name": tenant.name,
                "timezone": tenant.timezone,
                "scopes": sorted(self.principal.scopes),
            }
        )
