"""Contests over HTTP (API.md: Contests)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from core.api.base import (
    AwareDateTimeField,
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
from core.api.pagination import PAGE_PARAMETERS, limit_parameter, parse_limit
from core.errors import InvalidInputError
from gamify.contests import selectors, services
from gamify.contests.models import Contest
from gamify.game.services import MAX_DECIMAL, MAX_RANK
from gamify.leaderboards.api import LeaderboardEntry, NotQualifiedEntry
from kpis.api.views import PeriodOutput


class PrizeSerializer(StrictSerializer):
    """A prize, as sent (rank_from defaults to 1, rank_to to rank_from, coins to 0) and as
    shown (a frozen standing's prize carries coins and badge)."""

    rank_from = StrictIntegerField(min_value=1, max_value=MAX_RANK, required=False)
    rank_to = StrictIntegerField(min_value=1, max_value=MAX_RANK, required=False)
    coins = StrictIntegerField(min_value=0, max_value=services.MAX_PRIZE, required=False)
    badge = StrictCharField(allow_null=True, required=False, help_text="A badge code, or null")


class GuardrailSerializer(StrictSerializer):
    """An entity qualifies only while `kpi op value` holds over the contest's window."""

    kpi = StrictCharField(max_length=40)
    op = serializers.ChoiceField(choices=[">=", "<="])
    value = StrictNumberField(above=-MAX_DECIMAL, below=MAX_DECIMAL)


class ParticipantsSerializer(StrictSerializer):
    """Who takes part, by external ids; both lists empty (or the object empty): everyone."""

    teams = serializers.ListField(child=StrictCharField(), required=False, allow_null=True)
    agents = serializers.ListField(child=StrictCharField(), required=False, allow_null=True)


# The structured fields reach the service as sent, which checks their meaning (ids exist,
# hours align …) for the API and the admin alike; the serializers above give their shape.
@extend_schema_field(ParticipantsSerializer)
class ParticipantsField(serializers.DictField):
    pass


@extend_schema_field(GuardrailSerializer(many=True))
class GuardrailsField(serializers.ListField):
    child = serializers.DictField()


@extend_schema_field(PrizeSerializer(many=True))
class PrizesField(serializers.ListField):
    child = serializers.DictField()


class ContestOutput(serializers.Serializer[Contest]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Contest.Kind.choices)
    entity = serializers.ChoiceField(choices=Contest.Entity.choices)
    metric = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    participants = ParticipantsSerializer()
    min_volume = StrictNumberField(allow_null=True)
    target = StrictNumberField(allow_null=True)
    guardrails = GuardrailSerializer(many=True)
    prizes = PrizeSerializer(many=True)
    recurrence = serializers.ChoiceField(choices=Contest.Recurrence.choices, allow_null=True)
    status = serializers.ChoiceField(choices=Contest.Status.choices)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ContestInput(StrictSerializer):
    """A contest to create; a PATCH sends any of the fields."""

    name = StrictCharField(max_length=200)
    kind = serializers.ChoiceField(choices=Contest.Kind.values, required=False)
    entity = serializers.ChoiceField(choices=Contest.Entity.values, required=False)
    metric = StrictCharField(max_length=40, help_text="points or a KPI code")
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField()
    participants = ParticipantsField(required=False)
    min_volume = StrictNumberField(required=False, allow_null=True, minimum=0, below=MAX_DECIMAL)
    target = StrictNumberField(
        required=False, allow_null=True, above=-MAX_DECIMAL, below=MAX_DECIMAL
    )
    guardrails = GuardrailsField(required=False)
    prizes = PrizesField(required=False)
    recurrence = serializers.ChoiceField(
        choices=Contest.Recurrence.values, required=False, allow_null=True
    )
    draft = StrictBooleanField(required=False)


class StandingEntry(LeaderboardEntry):
    prize = PrizeSerializer(allow_null=True)


class StandingsOutput(serializers.Serializer[dict[str, Any]]):
    contest = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Contest.Status.choices)
    final = serializers.BooleanField()
    metric = serializers.CharField()
    period = PeriodOutput()
    entries = StandingEntry(many=True)
    around = StandingEntry(many=True)
    not_qualified = NotQualifiedEntry(many=True)


class ContestListApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="contests_list",
        parameters=[OpenApiParameter("status", str, enum=Contest.Status.values), *PAGE_PARAMETERS],
        responses={200: page_of(ContestOutput), **problems(400)},
    )
    def get(self, request: Request) -> Response:
        contests = Contest.objects.for_tenant(self.tenant)
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in Contest.Status.values:
                raise InvalidInputError({"status": f"One of {', '.join(Contest.Status.values)}."})
            contests = contests.filter(status=wanted)
        if self.principal.is_widget:
            contests = contests.exclude(status=Contest.Status.DRAFT)
        return self.paginate(contests, ContestOutput, ordering="-id")

    @extend_schema(
        operation_id="contests_create",
        request=ContestInput,
        responses={201: ContestOutput, **problems(400)},
        description=(
            "Scheduled, or running at once when starts_at has passed (what already happened in "
            "the window counts), or a draft with draft=true. Windows fall on the tenant's whole "
            "hours; a points contest runs from midnight to midnight."
        ),
    )
    def post(self, request: Request) -> Response:
        data = ContestInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.setdefault("kind", Contest.Kind.RANKED)
        values.setdefault("entity", Contest.Entity.AGENT)
        draft = values.pop("draft", False)
        contest = services.contest_create(tenant=self.tenant, values=values, draft=draft)
        return Response(ContestOutput(contest).data, status=status.HTTP_201_CREATED)


class _ContestView(TenantAPIView):
    widget_access = True

    def contest(self, contest_id: int) -> Contest:
        contests = Contest.objects.select_related("tenant")
        if self.principal.is_widget:
            contests = contests.exclude(status=Contest.Status.DRAFT)
        return get_for_tenant_or_404(
            contests, self.tenant, f"No contest {contest_id}.", pk=contest_id
        )


class ContestDetailApi(_ContestView):
    @extend_schema(
        operation_id="contests_retrieve", responses={200: ContestOutput, **problems(404)}
    )
    def get(self, request: Request, contest_id: int) -> Response:
        return Response(ContestOutput(self.contest(contest_id)).data)

    @extend_schema(
        operation_id="contests_update",
        request=ContestInput,
        responses={200: ContestOutput, **problems(400, 404, 409)},
        description="Only while draft or scheduled (409 otherwise). draft=false schedules a draft.",
    )
    def patch(self, request: Request, contest_id: int) -> Response:
        contest = self.contest(contest_id)
        data = ContestInput(data=request_data(request), partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        draft = changes.pop("draft", None)
        contest = services.contest_update(contest=contest, changes=changes, draft=draft)
        return Response(ContestOutput(contest).data)


class ContestCancelApi(_ContestView):
    @extend_schema(
        operation_id="contests_cancel",
        request=None,
        responses={200: ContestOutput, **problems(404, 409)},
    )
    def post(self, request: Request, contest_id: int) -> Response:
        contest = services.contest_cancel(contest=self.contest(contest_id))
        return Response(ContestOutput(contest).data)


class ContestStandingsApi(_ContestView):
    @extend_schema(
        operation_id="contests_standings",
        parameters=[
            limit_parameter(maximum=100, default=10),
            OpenApiParameter("around", str, description="An agent: its rank and neighbours"),
        ],
        responses={200: StandingsOutput, **problems(400, 404)},
        description="Live while running; frozen with each entry's prize once final.",
    )
    def get(self, request: Request, contest_id: int) -> Response:
        contest = self.contest(contest_id)
        around = None
        if request.query_params.get("around"):
            around = self.get_agent(request.query_params["around"])
        limit = parse_limit(request, default=10, maximum=100)
        return Response(selectors.standings_body(contest, limit=limit, around=around))
