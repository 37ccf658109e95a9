"""The OpenAPI shape of a badge's `criteria`: one object per kind, told apart by `kind`.

These serializers document; `services.badge_criteria_validate` is what checks (for the admin
too), with the same fields, ranges and defaults. A generated client gets one type per kind.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from core.api.base import (
    StrictCharField,
    StrictIntegerField,
    StrictNumberField,
    StrictSerializer,
)
from core.ids import MAX_ID
from gamify.game import services
from gamify.game.engine import PERIODS


def _kind_field(kind: str) -> serializers.CharField:
    # A one-value enum per kind, inline: a ChoiceField would make drf-spectacular name five
    # colliding "KindEnum" components.
    @extend_schema_field({"type": "string", "enum": [kind]})
    class KindField(serializers.CharField):
        pass

    return KindField()


def _range(name: str, **kwargs: Any) -> StrictIntegerField:
    low, high = next((lo, hi) for n, lo, hi in services.CRITERIA_RANGES if n == name)
    return StrictIntegerField(min_value=low, max_value=high, **kwargs)


def _op() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=[">=", "<="],
        required=False,
        allow_null=True,
        help_text="Omitted or null: the KPI's better direction",
    )


def _threshold() -> StrictNumberField:
    return StrictNumberField(above=-services.MAX_DECIMAL, below=services.MAX_DECIMAL)


def _min_volume() -> StrictNumberField:
    return StrictNumberField(
        required=False, allow_null=True, minimum=0, below=services.MAX_DECIMAL, help_text="0"
    )


class KpiThresholdCriteria(StrictSerializer):
    """The KPI meets `op threshold` over a period (judged when the period is finalized)."""

    kind = _kind_field("kpi_threshold")
    kpi = StrictCharField(max_length=40)
    op = _op()
    threshold = _threshold()
    period = serializers.ChoiceField(choices=PERIODS)
    min_volume = _min_volume()


class CountCriteria(StrictSerializer):
    """The KPI's numerator reaches `count` in a period or over the agent's lifetime."""

    kind = _kind_field("count")
    kpi = StrictCharField(max_length=40)
    count = _range("count")
    period = serializers.ChoiceField(
        choices=[*PERIODS, "lifetime"], required=False, help_text="Default lifetime"
    )


class StreakCriteria(StrictSerializer):
    """`length` calendar-consecutive periods meeting `op threshold`."""

    kind = _kind_field("streak")
    kpi = StrictCharField(max_length=40)
    op = _op()
    threshold = _threshold()
    period = serializers.ChoiceField(choices=["day", "week"])
    length = _range("length")
    min_volume = _min_volume()


class PointsCriteria(StrictSerializer):
    """A lifetime points milestone."""

    kind = _kind_field("points")
    points = _range("points")


class ContestPlaceCriteria(StrictSerializer):
    """Placing `rank` or better in a contest (any contest, or the one named)."""

    kind = _kind_field("contest_place")
    rank = _range("rank")
    contest = StrictIntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True, help_text="null: any"
    )


BADGE_CRITERIA = PolymorphicProxySerializer(
    component_name="BadgeCriteria",
    serializers={
        "kpi_threshold": KpiThresholdCriteria,
        "count": CountCriteria,
        "streak": StreakCriteria,
        "points": PointsCriteria,
        "contest_place": ContestPlaceCriteria,
    },
    resource_type_field_name="kind",
)


@extend_schema_field(BADGE_CRITERIA)
class CriteriaField(serializers.DictField):
    """A badge's criteria: an object passed as is to the service, which validates it."""
