"""Scorecards, goals, alert rules and coaching settings over HTTP (API.md: Coaching)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.models import Agent, Team
from accounts.services import external_id_errors
from core.api.base import (
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictNumberField,
    StrictSerializer,
    get_for_tenant_or_404,
    page_of,
    problems,
    request_data,
)
from core.api.pagination import PAGE_PARAMETERS, CursorPagination
from core.errors import InvalidInputError
from gamify.coaching import selectors, services
from gamify.coaching.models import ALERT_PERIODS, GOAL_PERIODS, AlertRule, Goal
from gamify.coaching.progress import Progress, goals_progress
from kpis.api.views import PERIOD_PARAMETERS, PeriodOutput
from kpis.models import Kpi
from kpis.periods import parse_period

STATUSES = ["met", "close", "missed"]
GOAL_STATUSES = ["on_track", "at_risk", "achieved", "missed"]


# --- scorecards -----------------------------------------------------------------------------
class BadgeItemOutput(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()
    icon = serializers.CharField()
    awarded_at = serializers.DateTimeField()


class ScorecardKpiOutput(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.ChoiceField(choices=Kpi.Unit.choices)
    direction = serializers.ChoiceField(choices=Kpi.Direction.choices)
    value = serializers.FloatField(allow_null=True)
    numerator = serializers.FloatField()
    denominator = serializers.FloatField()
    volume = serializers.FloatField()
    qualified = serializers.BooleanField()
    target = serializers.FloatField(allow_null=True, help_text="From the goal that applies")
    op = serializers.ChoiceField(choices=[">=", "<="], allow_null=True)
    goal = serializers.IntegerField(allow_null=True, help_text="The goal giving the target")
    status = serializers.ChoiceField(
        choices=STATUSES,
        allow_null=True,
        help_text="met, close (within the tenant's band of the target) or missed; null when "
        "not qualified or without a target",
    )
    previous = serializers.FloatField(
        allow_null=True, help_text="The value in the previous period of the same kind"
    )
    trend = serializers.FloatField(allow_null=True, help_text="value − previous")
    team_average = serializers.FloatField(
        allow_null=True, help_text="The agent's team (ratio of sums); null on team rows"
    )
    team_percentile = serializers.FloatField(
        allow_null=True,
        help_text="Share of the team's other ranked agents doing no better (best = 100)",
    )


class AgentScorecardOutput(serializers.Serializer[Any]):
    period = PeriodOutput()
    agent = serializers.CharField()
    display_name = serializers.CharField()
    team = serializers.CharField(allow_null=True)
    kpis = ScorecardKpiOutput(many=True)
    points = serializers.IntegerField(help_text="Points earned in the period")
    badges = BadgeItemOutput(many=True, help_text="Badges awarded in the period, latest first")


class AgentRowOutput(serializers.Serializer[Any]):
    agent = serializers.CharField()
    display_name = serializers.CharField()
    team = serializers.CharField(allow_null=True)
    kpis = ScorecardKpiOutput(many=True)
    points = serializers.IntegerField()
    badges = BadgeItemOutput(many=True)


class TeamRowOutput(serializers.Serializer[Any]):
    external_id = serializers.CharField()
    name = serializers.CharField()
    kpis = ScorecardKpiOutput(many=True)


class TenantTeamRowOutput(TeamRowOutput):
    # A Field's own `parent` attribute is shadowed: this serializer only documents the body.
    parent = serializers.CharField(allow_null=True)  # type: ignore[assignment]


class TeamScorecardOutput(serializers.Serializer[Any]):
    period = PeriodOutput()
    team = TeamRowOutput(help_text="The team's own figures: sub-teams, team-level events, turnover")
    sort = serializers.CharField()
    agents = AgentRowOutput(many=True)


class TenantRowOutput(serializers.Serializer[Any]):
    name = serializers.CharField()
    kpis = ScorecardKpiOutput(many=True)


class TenantScorecardOutput(serializers.Serializer[Any]):
    period = PeriodOutput()
    tenant = TenantRowOutput()
    teams = TenantTeamRowOutput(many=True)


class AgentScorecardApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="agents_scorecard",
        parameters=PERIOD_PARAMETERS,
        responses={200: AgentScorecardOutput, **problems(400, 404)},
        description="Every scorecard KPI of the agent with target, status, trend, team "
        "average and percentile in the team; the period's points and badges.",
    )
    def get(self, request: Request, external_id: str) -> Response:
        agent = self.get_agent(external_id)
        period = parse_period(request.query_params, self.tenant, default="week")
        return Response(selectors.agent_scorecard(tenant=self.tenant, agent=agent, period=period))


class TeamScorecardApi(TenantAPIView):
    @extend_schema(
        operation_id="teams_scorecard",
        parameters=[
            *PERIOD_PARAMETERS,
            OpenApiParameter(
                "sort",
                str,
                description="name (default), points, or a scorecard KPI code: best first; a "
                "leading '-' reverses. Agents not qualified for the KPI come last.",
            ),
        ],
        responses={200: TeamScorecardOutput, **problems(400, 404)},
    )
    def get(self, request: Request, external_id: str) -> Response:
        team = self.get_team(external_id)
        period = parse_period(request.query_params, self.tenant, default="week")
        sort = request.query_params.get("sort", "name")
        return Response(
            selectors.team_scorecard(tenant=self.tenant, team=team, period=period, sort=sort)
        )


class TenantScorecardApi(TenantAPIView):
    @extend_schema(
        operation_id="tenant_scorecard",
        parameters=PERIOD_PARAMETERS,
        responses={200: TenantScorecardOutput, **problems(400)},
        description="The tenant's own figures (turnover of all agents) and a row per team.",
    )
    def get(self, request: Request) -> Response:
        period = parse_period(request.query_params, self.tenant, default="week")
        return Response(selectors.tenant_scorecard(tenant=self.tenant, period=period))


# --- goals ----------------------------------------------------------------------------------
SCOPE_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"agent": {"type": "string", "maxLength": 128}},
            "required": ["agent"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"team": {"type": "string", "maxLength": 128}},
            "required": ["team"],
            "additionalProperties": False,
        },
        {"type": "string", "enum": ["tenant"]},
    ],
    "description": '{"agent": <external id>}, {"team": <external id>} or "tenant"',
}


@extend_schema_field(SCOPE_SCHEMA)
class ScopeField(serializers.Field[Any, Any, Any, Any]):
    """{"agent": id} | {"team": id} | "tenant" → ("agent"|"team"|"tenant", id|None)."""

    default_error_messages = {
        "invalid": 'Must be {{"agent": <external id>}}, {{"team": <external id>}} or "tenant".'
    }

    def to_internal_value(self, data: Any) -> tuple[str, str | None]:
        if data == "tenant":
            return ("tenant", None)
        if isinstance(data, Mapping) and len(data) == 1:
            ((kind, value),) = data.items()
            if kind in ("agent", "team") and isinstance(value, str):
                errors = external_id_errors(value)
                if errors:  # no agent or team can have it (a NUL would reach PostgreSQL)
                    raise serializers.ValidationError(f"{kind}: {errors[0]}")
                return (kind, value)
        self.fail("invalid")
        raise AssertionError  # unreachable: fail raises

    def to_representation(self, goal: Goal) -> Any:
        if goal.agent is not None:
            return {"agent": goal.agent.external_id}
        if goal.team is not None:
            return {"team": goal.team.external_id}
        return "tenant"


class GoalProgressOutput(serializers.Serializer[Any]):
    period = serializers.DictField(
        child=serializers.DateTimeField(), help_text="{start, end} of the window judged now"
    )
    value = serializers.FloatField(allow_null=True)
    numerator = serializers.FloatField()
    denominator = serializers.FloatField()
    volume = serializers.FloatField()
    qualified = serializers.BooleanField(help_text="volume ≥ the goal's min_volume")
    start_value = serializers.FloatField(
        allow_null=True, help_text="The value of the window just before (0 for a count KPI)"
    )
    fraction = serializers.FloatField(
        allow_null=True, help_text="0 at start_value, 1 at the target (direction from op)"
    )


class GoalOutput(serializers.Serializer[Goal]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kpi = serializers.CharField()
    op = serializers.ChoiceField(choices=[">=", "<="])
    target = StrictNumberField()
    period = serializers.SerializerMethodField()
    start = serializers.DateField()
    deadline = serializers.DateField(allow_null=True)
    scope = ScopeField(source="*")
    min_volume = StrictNumberField(allow_null=True)
    active = serializers.BooleanField()
    progress = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    achieved_at = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def _progress(self, goal: Goal) -> Progress | None:
        found: Progress | None = self.context["progress"].get(goal.pk)
        return found

    @extend_schema_field(serializers.ChoiceField(choices=list(GOAL_PERIODS), allow_null=True))
    def get_period(self, goal: Goal) -> str | None:
        return goal.period or None

    @extend_schema_field(GoalProgressOutput(allow_null=True))
    def get_progress(self, goal: Goal) -> dict[str, Any] | None:
        progress = self._progress(goal)
        if progress is None:
            return None
        return {
            "period": progress.window(goal.tenant),
            **progress.value.as_dict(),
            "start_value": progress.start_value,
            "fraction": progress.fraction,
        }

    @extend_schema_field(serializers.ChoiceField(choices=GOAL_STATUSES, allow_null=True))
    def get_status(self, goal: Goal) -> str | None:
        progress = self._progress(goal)
        return progress.status if progress else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_achieved_at(self, goal: Goal) -> str | None:
        progress = self._progress(goal)
        if progress is None or progress.achieved_at is None:
            return None
        return progress.achieved_at.astimezone(goal.tenant.tz).isoformat()


def _number(**kwargs: Any) -> StrictNumberField:
    return StrictNumberField(above=-services.MAX_DECIMAL, below=services.MAX_DECIMAL, **kwargs)


class GoalInput(StrictSerializer):
    """A goal to create; a PATCH sends any of the fields."""

    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    kpi = StrictCharField(max_length=40)
    op = serializers.ChoiceField(
        choices=[">=", "<="], required=False, help_text="Omitted: the KPI's better direction"
    )
    target = _number()
    period = serializers.ChoiceField(
        choices=list(GOAL_PERIODS),
        required=False,
        allow_null=True,
        help_text="Recurring every period; or give a deadline",
    )
    deadline = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="The goal's last local day (not in the past); or give a period",
    )
    start = serializers.DateField(
        required=False, help_text="A deadline goal counts from this local day (default today)"
    )
    scope = ScopeField()
    min_volume = StrictNumberField(
        required=False, allow_null=True, minimum=0, below=services.MAX_DECIMAL
    )
    active = StrictBooleanField(required=False)


def _goal_queryset(view: TenantAPIView) -> QuerySet[Goal]:
    return Goal.objects.for_tenant(view.tenant).select_related("agent", "team", "tenant")


def _goal_values(view: TenantAPIView, data: Mapping[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in data.items() if k != "scope"}
    if "period" in values:
        values["period"] = values["period"] or ""
        if values["period"] and "deadline" not in values:
            values["deadline"] = None
    if values.get("deadline") is not None and "period" not in values:
        values["period"] = ""
    if "scope" in data:
        kind, external_id = data["scope"]
        values["agent"] = values["team"] = None
        if kind == "agent":
            agent = Agent.objects.for_tenant(view.tenant).filter(external_id=external_id).first()
            if agent is None:
                raise InvalidInputError({"scope": f"No agent with external id {external_id!r}."})
            values["agent"] = agent
        elif kind == "team":
            team = Team.objects.for_tenant(view.tenant).filter(external_id=external_id).first()
            if team is None:
                raise InvalidInputError({"scope": f"No team with external id {external_id!r}."})
            values["team"] = team
    return values


def _goal_body(view: TenantAPIView, goal: Goal) -> Any:
    goal = _goal_queryset(view).get(pk=goal.pk)
    progress = goals_progress(tenant=view.tenant, goals=[goal])
    return GoalOutput(goal, context={"progress": progress}).data


class GoalListApi(TenantAPIView):
    @extend_schema(
        operation_id="goals_list",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("agent", str, description="Only this agent's goals"),
            OpenApiParameter("team", str, description="Only this team's goals"),
            OpenApiParameter("active", bool),
        ],
        responses={200: page_of(GoalOutput), **problems(400)},
    )
    def get(self, request: Request) -> Response:
        goals = _goal_queryset(self)
        params = request.query_params
        if "agent" in params:
            goals = goals.filter(agent__external_id=params["agent"])
        if "team" in params:
            goals = goals.filter(team__external_id=params["team"])
        if "active" in params:
            if params["active"] not in ("true", "false"):
                raise InvalidInputError({"active": "Must be true or false."})
            goals = goals.filter(active=params["active"] == "true")
        paginator = CursorPagination()
        paginator.ordering = "id"
        page = list(paginator.paginate_queryset(goals, request, view=self) or [])
        progress = goals_progress(tenant=self.tenant, goals=page)
        data = GoalOutput(cast(Any, page), many=True, context={"progress": progress}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="goals_create",
        request=GoalInput,
        responses={201: GoalOutput, **problems(400)},
    )
    def post(self, request: Request) -> Response:
        data = GoalInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        goal = services.goal_create(
            tenant=self.tenant, values=_goal_values(self, data.validated_data)
        )
        return Response(_goal_body(self, goal), status=status.HTTP_201_CREATED)


class GoalDetailApi(TenantAPIView):
    def _goal(self, goal_id: int) -> Goal:
        return get_for_tenant_or_404(
            Goal.objects.select_related("agent", "team", "tenant"),
            self.tenant,
            f"No goal {goal_id}.",
            pk=goal_id,
        )

    @extend_schema(operation_id="goals_retrieve", responses={200: GoalOutput, **problems(404)})
    def get(self, request: Request, goal_id: int) -> Response:
        return Response(_goal_body(self, self._goal(goal_id)))

    @extend_schema(
        operation_id="goals_update",
        request=GoalInput,
        responses={200: GoalOutput, **problems(400, 404)},
    )
    def patch(self, request: Request, goal_id: int) -> Response:
        goal = self._goal(goal_id)
        data = GoalInput(data=request_data(request), partial=True)
        data.is_valid(raise_exception=True)
        goal = services.goal_update(goal=goal, changes=_goal_values(self, data.validated_data))
        return Response(_goal_body(self, goal))

    @extend_schema(operation_id="goals_delete", responses={204: None, **problems(404)})
    def delete(self, request: Request, goal_id: int) -> Response:
        services.goal_delete(goal=self._goal(goal_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- alert rules ----------------------------------------------------------------------------
class AlertRuleOutput(serializers.Serializer[AlertRule]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=AlertRule.Kind.values)
    basis = serializers.ChoiceField(choices=AlertRule.Basis.values)
    kpi = serializers.CharField(allow_blank=True)
    percent = StrictNumberField()
    periods = serializers.IntegerField()
    period = serializers.ChoiceField(choices=list(ALERT_PERIODS))
    min_volume = StrictNumberField(allow_null=True)
    cooldown_minutes = serializers.IntegerField()
    active = serializers.BooleanField()


class AlertRuleInput(StrictSerializer):
    name = StrictCharField(max_length=200)
    kind = serializers.ChoiceField(choices=AlertRule.Kind.values)
    basis = serializers.ChoiceField(
        choices=AlertRule.Basis.values,
        required=False,
        help_text="team_average (default): X % better or worse than the team for Y periods; "
        "goal: a goal achieved before its period ends (exceeds) or at risk (behind)",
    )
    kpi = StrictCharField(
        max_length=40, required=False, allow_blank=True, help_text="Blank: any goal's KPI"
    )
    percent = StrictNumberField(
        required=False, minimum=0, below=services.MAX_PERCENT, help_text="X"
    )
    periods = StrictIntegerField(
        required=False, min_value=1, max_value=services.MAX_ALERT_PERIODS, help_text="Y"
    )
    period = serializers.ChoiceField(choices=list(ALERT_PERIODS), required=False)
    min_volume = StrictNumberField(
        required=False, allow_null=True, minimum=0, below=services.MAX_DECIMAL
    )
    cooldown_minutes = StrictIntegerField(
        required=False, min_value=0, max_value=services.MAX_COOLDOWN_MINUTES
    )
    active = StrictBooleanField(required=False)


class AlertRuleListApi(TenantAPIView):
    @extend_schema(
        operation_id="alert_rules_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(AlertRuleOutput), **problems(400)},
    )
    def get(self, request: Request) -> Response:
        rules = AlertRule.objects.for_tenant(self.tenant)
        return self.paginate(rules, AlertRuleOutput, ordering="id")

    @extend_schema(
        operation_id="alert_rules_create",
        request=AlertRuleInput,
        responses={201: AlertRuleOutput, **problems(400)},
    )
    def post(self, request: Request) -> Response:
        data = AlertRuleInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        rule = services.alert_rule_create(tenant=self.tenant, values=data.validated_data)
        return Response(AlertRuleOutput(rule).data, status=status.HTTP_201_CREATED)


class AlertRuleDetailApi(TenantAPIView):
    def _rule(self, alert_rule_id: int) -> AlertRule:
        return get_for_tenant_or_404(
            AlertRule.objects, self.tenant, f"No alert rule {alert_rule_id}.", pk=alert_rule_id
        )

    @extend_schema(
        operation_id="alert_rules_retrieve", responses={200: AlertRuleOutput, **problems(404)}
    )
    def get(self, request: Request, alert_rule_id: int) -> Response:
        return Response(AlertRuleOutput(self._rule(alert_rule_id)).data)

    @extend_schema(
        operation_id="alert_rules_update",
        request=AlertRuleInput,
        responses={200: AlertRuleOutput, **problems(400, 404)},
    )
    def patch(self, request: Request, alert_rule_id: int) -> Response:
        rule = self._rule(alert_rule_id)
        data = AlertRuleInput(data=request_data(request), partial=True)
        data.is_valid(raise_exception=True)
        rule = services.alert_rule_update(rule=rule, changes=data.validated_data)
        return Response(AlertRuleOutput(rule).data)

    @extend_schema(operation_id="alert_rules_delete", responses={204: None, **problems(404)})
    def delete(self, request: Request, alert_rule_id: int) -> Response:
        services.alert_rule_delete(rule=self._rule(alert_rule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- settings -------------------------------------------------------------------------------
class CoachingSettingsOutput(serializers.Serializer[Any]):
    scorecard_kpis = serializers.ListField(
        child=serializers.CharField(), help_text="The scorecard's KPIs, in order"
    )
    close_band_percent = StrictNumberField()
    move_counts_as_leaving = serializers.BooleanField()


class CoachingSettingsInput(StrictSerializer):
    scorecard_kpis = serializers.ListField(
        child=StrictCharField(max_length=40),
        required=False,
        max_length=services.MAX_SCORECARD_KPIS,
        help_text="Empty: the default list",
    )
    close_band_percent = StrictNumberField(required=False, minimum=0, below=100)
    move_counts_as_leaving = StrictBooleanField(required=False)


def _settings_body(view: TenantAPIView) -> dict[str, Any]:
    current = selectors.coaching_settings(view.tenant)
    return {
        "scorecard_kpis": list(current.scorecard),
        "close_band_percent": float(current.close_band_percent),
        "move_counts_as_leaving": current.move_counts_as_leaving,
    }


class CoachingSettingsApi(TenantAPIView):
    @extend_schema(
        operation_id="coaching_settings_retrieve",
        responses={200: CoachingSettingsOutput, **problems()},
    )
    def get(self, request: Request) -> Response:
        return Response(_settings_body(self))

    @extend_schema(
        operation_id="coaching_settings_update",
        request=CoachingSettingsInput,
        responses={200: CoachingSettingsOutput, **problems(400)},
    )
    def patch(self, request: Request) -> Response:
        data = CoachingSettingsInput(data=request_data(request), partial=True)
        data.is_valid(raise_exception=True)
        services.coaching_settings_update(tenant=self.tenant, changes=data.validated_data)
        return Response(_settings_body(self))
