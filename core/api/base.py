"""The fields, serializers and helpers every API view builds on (tenant-free: the tenant's
base view, `TenantAPIView`, is accounts/api/base.py).

`get_for_tenant_or_404` is the one way a view fetches an object named in its path: scoped to
the caller's tenant, so an object of another tenant is simply not found (404).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from django.db.models import Model
from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.request import Request

from core.api.problems import PROBLEM_CONTENT_TYPE
from core.errors import NotFoundError
from core.times import OFFSET_REQUIRED, time_range_error


class TenantScoped[M: Model](Protocol):
    """A tenant-owned model's manager or queryset (accounts' `TenantQuerySet`)."""

    @property
    def model(self) -> type[M]: ...

    def for_tenant(self, tenant: Any) -> Any: ...


def get_for_tenant_or_404[M: Model](
    source: TenantScoped[M], tenant: Any, detail: str, **lookup: Any
) -> M:
    """The tenant's one object matching `lookup` (`Model.objects` or a narrowed queryset of
    it); a NotFoundError (404) with `detail` when it has none, whoever else does."""
    found: M | None = source.for_tenant(tenant).filter(**lookup).first()
    if found is None:
        raise NotFoundError(detail)
    return found


def request_data(request: Request) -> Mapping[str, Any]:
    """The JSON body, which must be an object."""
    data = request.data
    if not isinstance(data, Mapping):
        raise serializers.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
    return data


class StrictSerializer(serializers.Serializer[Any]):
    """A serializer that names unknown fields instead of silently ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": ["Expected a JSON object."]}, code="invalid"
            )
        writable = {name for name, field in self.fields.items() if not field.read_only}
        unknown = sorted(set(data) - writable)
        errors: dict[str, Any] = {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors.update(exc.detail if isinstance(exc.detail, dict) else {})
            if not isinstance(exc.detail, dict):
                raise
        for name in unknown:
            errors[name] = ["Unknown field."]
        if errors:
            raise serializers.ValidationError(errors)
        return value


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry an offset: a local time without one is ambiguous."""

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError as exc:  # well-formed but impossible, e.g. 12:99
                self.fail("impossible", reason=str(exc))
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
            # Before DRF converts it to UTC, which overflows at the ends of the calendar.
            if parsed is not None and (error := time_range_error(parsed)):
                raise serializers.ValidationError(error, code="range")
        instant: datetime = super().to_internal_value(value)
        if error := time_range_error(instant):
            raise serializers.ValidationError(error, code="range")
        return instant

    default_error_messages = {
        **serializers.DateTimeField.default_error_messages,
        "naive": OFFSET_REQUIRED,
        "impossible": "Not a real date and time ({reason}).",
    }


class StrictCharField(serializers.CharField):
    """A string that must be a JSON string: 123 is not silently turned into "123".

    `max_length` holds for the string as sent, as the schema's maxLength says, not only once
    the surrounding whitespace is trimmed (DRF's order).
    """

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        check_raw_length(self, data)
        return str(super().to_internal_value(data))


def check_raw_length(field: serializers.CharField, data: str) -> None:
    if field.max_length is not None and len(data) > field.max_length:
        field.fail("max_length", max_length=field.max_length)


class StrictBooleanField(serializers.BooleanField):
    """true or false, not "yes", 1 or "on"."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not "5", not 5.5, not true."""

    default_error_messages = {
        **serializers.IntegerField.default_error_messages,
        "invalid": "Must be a whole number.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and not data.is_integer():
            self.fail("invalid")
        return int(super().to_internal_value(data))


class ProblemSerializer(serializers.Serializer[Any]):
    """RFC 9457 problem details (documentation only)."""

    type = serializers.CharField(help_text="A URI reference naming the kind of problem")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per offending field",
    )
    # Members some problem types add (RFC 9457 extensions), so typed clients read them.
    balance = serializers.IntegerField(
        required=False, help_text="insufficient-funds: the wallet's balance, in coins"
    )
    needed = serializers.IntegerField(
        required=False, help_text="insufficient-funds: the coins the operation needs"
    )
    limit = serializers.IntegerField(
        required=False, help_text="limit-reached: units of the reward allowed per agent a month"
    )
    remaining = serializers.IntegerField(
        required=False, help_text="limit-reached: units the agent may still redeem this month"
    )
    redemption_status = serializers.ChoiceField(
        choices=["requested", "approved", "rejected", "fulfilled"],
        required=False,
        help_text="invalid-transition: the redemption's current status",
    )


def problems(*codes: int) -> dict[Any, Any]:
    """OpenAPI responses for the error statuses an operation can answer, documented with the
    media type they are sent with (application/problem+json)."""
    from drf_spectacular.utils import OpenApiResponse

    # 503: the database is unavailable for a moment (with Retry-After), on any operation.
    common = (401, 403, 429, 503)
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer, description=f"problem+json ({code})"
        )
        for code in sorted(set(codes) | set(common))
    }


class StrictNumberField(serializers.Field[Any, Any, Any, Any]):
    """A JSON number (not a string, not a boolean), as a Decimal.

    `minimum` (inclusive), `above` and `below` (exclusive) bound it; the OpenAPI schema
    declares the same bounds (core/api/schema.py). Services check them again, for the
    admin and every other caller.
    """

    default_error_messages = {
        "invalid": "Must be a number.",
        "minimum": "Must be at least {limit}.",
        "above": "Must be more than {limit}.",
        "below": "Must be less than {limit}.",
    }

    def __init__(
        self,
        *,
        minimum: Decimal | int | None = None,
        above: Decimal | int | None = None,
        below: Decimal | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.minimum = None if minimum is None else Decimal(minimum)
        self.above = None if above is None else Decimal(above)
        self.below = None if below is None else Decimal(below)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        number = Decimal(str(data))
        if not number.is_finite():
            self.fail("invalid")
        if self.minimum is not None and number < self.minimum:
            self.fail("minimum", limit=self.minimum)
        if self.above is not None and number <= self.above:
            self.fail("above", limit=self.above)
        if self.below is not None and number >= self.below:
            self.fail("below", limit=self.below)
        return number

    def to_representation(self, value: Any) -> Any:
        return None if value is None else float(value)


_pages: dict[str, Any] = {}


def page_of(serializer_class: type[serializers.BaseSerializer[Any]]) -> Any:
    """The OpenAPI shape of a cursor page of `serializer_class`: {"results": [...], "next"}."""
    from drf_spectacular.utils import inline_serializer

    name = serializer_class.__name__.removesuffix("Output").removesuffix("Serializer") + "Page"
    if name not in _pages:
        _pages[name] = inline_serializer(
            name,
            {
                "results": serializer_class(many=True),
                "next": serializers.URLField(allow_null=True, help_text="The next page, or null"),
            },
        )
    return _pages[name]
