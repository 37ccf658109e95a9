"""Point rules, adjustments, levels, badges and the agent profile over HTTP."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.api.idempotency import idempotent
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
from core.api.pagination import PAGE_PARAMETERS
from core.errors import InvalidInputError
from gamify.game import selectors, services
from gamify.game.api.criteria import CriteriaField
from gamify.game.engine import level_table
from gamify.game.models import Badge, BadgeAward, Level, PointAdjustment, PointRule


# --- point rules ----------------------------------------------------------------------------
class PointRuleOutput(serializers.Serializer[PointRule]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kpi = serializers.CharField()
    kind = serializers.ChoiceField(choices=PointRule.Kind.choices)
    points = serializers.IntegerField()
    period = serializers.ChoiceField(choices=["day", "week", "month"])
    op = serializers.CharField(allow_blank=True)
    threshold = StrictNumberField(allow_null=True)
    lower = StrictNumberField(allow_null=True)
    upper = StrictNumberField(allow_null=True)
    min_volume = StrictNumberField()
    cap = serializers.IntegerField(allow_null=True)
    active = serializers.BooleanField()


def _nullable_number() -> StrictNumberField:
    return StrictNumberField(
        required=False,
        allow_null=True,
        above=-services.MAX_DECIMAL,
        below=services.MAX_DECIMAL,
    )


class PointRuleInput(StrictSerializer):
    """A rule to create; a PATCH sends any of the fields."""

    name = StrictCharField(max_length=200)
    kpi = StrictCharField(max_length=40)
    kind = serializers.ChoiceField(choices=PointRule.Kind.values)
    points = StrictIntegerField(min_value=0, max_value=services.MAX_POINTS)
    period = serializers.ChoiceField(choices=["day", "week", "month"], required=False)
    op = serializers.ChoiceField(
        choices=[">=", "<="],
        required=False,
        allow_null=True,
        help_text="A target rule's comparison; omitted or null: the KPI's better direction",
    )
    threshold = _nullable_number()
    lower = _nullable_number()
    upper = _nullable_number()
    min_volume = StrictNumberField(required=False, minimum=0, below=services.MAX_DECIMAL)
    cap = StrictIntegerField(
        min_value=0, max_value=services.MAX_TOTAL_POINTS, required=False, allow_null=True
    )
    active = StrictBooleanField(required=False)


class PointRuleListApi(TenantAPIView):
    @extend_schema(
        operation_id="point_rules_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(PointRuleOutput), **problems(400)},
    )
    def get(self, request: Request) -> Response:
        rules = PointRule.objects.for_tenant(self.tenant).filter(deleted=False)
        return self.paginate(rules, PointRuleOutput, ordering="id")

    @extend_schema(
        operation_id="point_rules_create",
        request=PointRuleInput,
        responses={201: PointRuleOutput, **problems(400)},
        description="Creating a rule recomputes the points of every open period.",
    )
    def post(self, request: Request) -> Response:
        data = PointRuleInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        rule = services.point_rule_create(tenant=self.tenant, values=data.validated_data)
        return Response(PointRuleOutput(rule).data, status=status.HTTP_201_CREATED)


class PointRuleDetailApi(TenantAPIView):
    def _rule(self, rule_id: int) -> PointRule:
        return get_for_tenant_or_404(
            PointRule.objects, self.tenant, f"No point rule {rule_id}.", pk=rule_id, deleted=False
        )

    @extend_schema(
        operation_id="point_rules_retrieve", responses={200: PointRuleOutput, **problems(404)}
    )
    def get(self, request: Request, rule_id: int) -> Response:
        return Response(PointRuleOutput(self._rule(rule_id)).data)

    @extend_schema(
        operation_id="point_rules_update",
        request=PointRuleInput,
        responses={200: PointRuleOutput, **problems(400, 404)},
        description="Editing or deactivating a rule recomputes the points of every open period.",
    )
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = self._rule(rule_id)
        data = PointRuleInput(data=request_data(request), partial=True)
        data.is_valid(raise_exception=True)
        rule = services.point_rule_update(rule=rule, changes=data.validated_data)
        return Response(PointRuleOutput(rule).data)

    @extend_schema(
        operation_id="point_rules_delete",
        responses={204: None, **problems(404)},
        description="Retire the rule: open-period points go, finalized awards stay.",
    )
    def delete(self, request: Request, rule_id: int) -> Response:
        services.point_rule_delete(rule=self._rule(rule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- adjustments ----------------------------------------------------------------------------
class AdjustmentInput(StrictSerializer):
    points = StrictIntegerField(min_value=-services.MAX_POINTS, max_value=services.MAX_POINTS)
    reason = StrictCharField(max_length=500)


class AdjustmentOutput(serializers.Serializer[PointAdjustment]):
    id = serializers.IntegerField()
    agent = serializers.CharField(source="agent.external_id")
    points = serializers.IntegerField()
    reason = serializers.CharField()
    day = serializers.DateField()
    created_at = serializers.DateTimeField()


class AdjustmentCreateApi(TenantAPIView):
    @extend_schema(
        operation_id="points_adjustments_create",
        request=AdjustmentInput,
        responses={201: AdjustmentOutput, **problems(400, 404, 409)},
        description=(
            "A manual, append-only points adjustment (±), counted today in every total. "
            "Send an Idempotency-Key: a repeat within 24 h replays the first answer."
        ),
    )
    @idempotent
    def post(self, request: Request, external_id: str) -> Response:
        agent = self.get_agent(external_id)
        data = AdjustmentInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        adjustment = services.points_adjust(
            tenant=self.tenant, agent=agent, actor=self.principal.credential, **data.validated_data
        )
        return Response(AdjustmentOutput(adjustment).data, status=status.HTTP_201_CREATED)


# --- levels ---------------------------------------------------------------------------------
class LevelSerializer(serializers.Serializer[Level]):
    """One row of the level table (documentation: `services.levels_validate` checks it)."""

    number = serializers.IntegerField(min_value=1, max_value=services.MAX_LEVELS)
    name = serializers.CharField(max_length=100)
    min_points = serializers.IntegerField(min_value=0, max_value=services.MAX_TOTAL_POINTS)


class LevelsApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="levels_list", responses={200: LevelSerializer(many=True), **problems()}
    )
    def get(self, request: Request) -> Response:
        rows = [
            {"number": n, "name": name, "min_points": m} for n, name, m in level_table(self.tenant)
        ]
        return Response(rows)

    @extend_schema(
        operation_id="levels_replace",
        request=LevelSerializer(many=True),
        responses={200: LevelSerializer(many=True), **problems(400)},
        description=(
            "Replace the whole table (1 to 100 levels): numbers 1, 2, 3 …, min_points from 0, "
            "strictly increasing."
        ),
    )
    def put(self, request: Request) -> Response:
        if not isinstance(request.data, list):
            raise InvalidInputError({"levels": "Send the whole table as a JSON list."})
        rows = services.levels_replace(tenant=self.tenant, levels=request.data)
        return Response(LevelSerializer(rows, many=True).data)  # type: ignore[arg-type]


# --- badges ---------------------------------------------------------------------------------
class BadgeOutput(serializers.Serializer[Badge]):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    icon = serializers.CharField()
    coins = serializers.IntegerField()
    repeatable = serializers.BooleanField()
    criteria = CriteriaField()
    active = serializers.BooleanField()


class BadgeInput(StrictSerializer):
    """A badge to create; a PATCH sends any of the fields but `code`."""

    code = StrictCharField(max_length=60)
    name = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True)
    icon = StrictCharField(max_length=500, required=False, allow_blank=True)
    coins = StrictIntegerField(min_value=0, max_value=services.MAX_POINTS, required=False)
    repeatable = StrictBooleanField(required=False)
    criteria = CriteriaField()
    active = StrictBooleanField(required=False)


class BadgeListApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="badges_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(BadgeOutput), **problems(400)},
    )
    def get(self, request: Request) -> Response:
        badges = Badge.objects.for_tenant(self.tenant)
        return self.paginate(badges, BadgeOutput, ordering="id")

    @extend_schema(
        operation_id="badges_create",
        request=BadgeInput,
        responses={201: BadgeOutput, **problems(400, 409)},
    )
    def post(self, request: Request) -> Response:
        data = BadgeInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        badge = services.badge_create(tenant=self.tenant, code=values.pop("code"), values=values)
        return Response(BadgeOutput(badge).data, status=status.HTTP_201_CREATED)


class BadgeDetailApi(TenantAPIView):
    widget_access = True

    def _badge(self, code: str) -> Badge:
        return get_for_tenant_or_404(Badge.objects, self.tenant, f"No badge {code!r}.", code=code)

    @extend_schema(operation_id="badges_retrieve", responses={200: BadgeOutput, **problems(404)})
    def get(self, request: Request, code: str) -> Response:
        return Response(BadgeOutput(self._badge(code)).data)

    @extend_schema(
        operation_id="badges_update",
        request=BadgeInput,
        responses={200: BadgeOutput, **problems(400, 404)},
    )
    def patch(self, request: Request, code: str) -> Response:
        badge = self._badge(code)
        data = BadgeInput(data=request_data(request), partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if changes.pop("code", code) != code:
            raise InvalidInputError({"code": "A badge's code cannot change."})
        badge = services.badge_update(badge=badge, changes=changes)
        return Response(BadgeOutput(badge).data)


class AwardOutput(serializers.Serializer[BadgeAward]):
    code = serializers.CharField(source="badge.code")
    name = serializers.CharField(source="badge.name")
    icon = serializers.CharField(source="badge.icon")
    awarded_at = serializers.DateTimeField()
    period_key = serializers.CharField()
    coins = serializers.IntegerField()


class AgentBadgesApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="agents_badges",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(AwardOutput), **problems(400, 404)},
        description="The agent's badges, latest first.",
    )
    def get(self, request: Request, external_id: str) -> Response:
        agent = self.get_agent(external_id)
        awards: QuerySet[BadgeAward] = selectors.agent_badges(tenant=self.tenant, agent_id=agent.pk)
        return self.paginate(awards, AwardOutput, ordering=("-awarded_at", "-id"))
