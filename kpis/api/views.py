"""Events, the KPI catalogue and KPI queries over HTTP (API.md: Events, KPIs)."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from core.api.base import (
    StrictCharField,
    StrictIntegerField,
    StrictNumberField,
    StrictSerializer,
    get_for_tenant_or_404,
    page_of,
    problems,
    request_data,
)
from core.errors import InvalidInputError, NotFoundError
from kpis import ingest, metrics
from kpis.catalogue import CatalogueKpi, kpi_catalogue
from kpis.models import ImportJob, Kpi
from kpis.periods import Period, parse_period
from kpis.schemas import MAX_BATCH, EventBatch, IngestResponse
from kpis.selectors import agent_kpis, kpi_series, team_kpis
from kpis.services import catalogue as catalogue_services
from kpis.services import imports

PERIOD_PARAMETERS = [
    OpenApiParameter(
        "period",
        str,
        enum=["day", "week", "month", "quarter", "year", "all"],
        description="Period containing `date` (default day)",
    ),
    OpenApiParameter(
        "date",
        OpenApiTypes.DATE,
        description="YYYY-MM-DD in the tenant's timezone (default today), 2000-01-01 to 2999-12-31",
    ),
    OpenApiParameter(
        "start",
        OpenApiTypes.DATETIME,
        description="Custom window start (ISO 8601 with offset, on the hour); with `end`",
    ),
    OpenApiParameter(
        "end", OpenApiTypes.DATETIME, description="Custom window end (exclusive); with `start`"
    ),
]


def _json_bytes(request: Request) -> bytes:
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType(content_type or "none")
    return _body_once(request._request)


def _parsed(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError({"body": f"Malformed JSON: {exc}"}) from exc


def _body_once(request: HttpRequest) -> bytes:
    """The body, read from the stream without being kept on the request (`request.body`
    keeps the bytes until the response has gone: a batch of 1000 events held twice, as bytes
    and parsed). Bounded as `request.body` is: RequestDataTooBig → 413."""
    if hasattr(request, "_body") or getattr(request, "_read_started", False):
        return request.body  # read already (or being streamed): Django's rules
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0  # as Django's stream takes it: nothing to read
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and length > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return request.read()


# Batches parsed and stored at once in one web process. One thread at a time runs Python
# (the GIL): a second keeps the process busy while the first waits on PostgreSQL, and more
# only add the memory of another batch in flight to the worker's heap, which keeps its
# high-water mark (bench/soak.py: 4 threads each holding a batch grew a worker 8-13 %).
BATCHES_AT_ONCE = 2
_BATCHES = threading.BoundedSemaphore(BATCHES_AT_ONCE)


def _events_of(data: Any) -> list[Any]:
    """The `events` list of an ingest body, or the 400 that names what is wrong with it."""
    if not isinstance(data, dict):
        raise InvalidInputError({"body": "Must be a JSON object with an `events` list."})
    unknown = sorted(set(data) - {"events"})
    if unknown:
        raise InvalidInputError(dict.fromkeys(unknown, "Unknown field."))
    events = data.pop("events", None)
    if not isinstance(events, list):
        raise InvalidInputError({"events": "Must be a list of events."})
    if not events:
        raise InvalidInputError({"events": "Must hold at least one event."})
    if len(events) > MAX_BATCH:
        raise InvalidInputError(
            {"events": f"At most {MAX_BATCH} events per request (got {len(events)})."}
        )
    return events


class EventIngestApi(TenantAPIView):
    scopes = {"POST": "ingest"}

    @extend_schema(
        operation_id="events_ingest",
        request=EventBatch,
        responses={202: IngestResponse, **problems(400, 413, 415)},
        description=(
            "Store up to 1000 events idempotently by `event_id`. Valid events are stored even "
            "when others are rejected (listed with their index and field errors). A repeated "
            "`event_id` with the same body counts as a duplicate; with another body it is "
            "rejected. Unknown agents and teams are created unless the tenant disabled it."
        ),
    )
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        body = _json_bytes(request)  # read before waiting: a slow upload holds no turn
        with _BATCHES:
            data = _parsed(body)
            del body
            # No local holds the list (`_events_of` takes it out of `data`): events_ingest
            # gets its only reference and lets the parsed events go once they are screened.
            result = ingest.events_ingest(tenant=self.tenant, items=_events_of(data))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)


class VoidOutput(serializers.Serializer[Any]):
    event_id = serializers.CharField()
    voided_at = serializers.DateTimeField()


class EventVoidApi(TenantAPIView):
    scopes = {"POST": "ingest"}

    @extend_schema(
        operation_id="events_void",
        request=None,
        responses={200: VoidOutput, **problems(404)},
        description="Retract an event: everything derived from it is recomputed. Idempotent.",
    )
    def post(self, request: Request, event_id: str) -> Response:
        event = ingest.event_void(tenant=self.tenant, event_id=event_id)
        return Response(VoidOutput(event).data)


class ImportJobOutput(serializers.Serializer[ImportJob]):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ImportJob.Status.choices)
    lines = serializers.IntegerField()
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.ListField(
        child=serializers.DictField(),
        help_text="[{line, event_id, errors}] (the first 1000; see rejected_count)",
    )
    rejected_count = serializers.IntegerField()
    error = serializers.CharField()


NDJSON_TYPES = {"application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain"}


class EventImportApi(TenantAPIView):
    scopes = {"POST": "ingest"}

    @extend_schema(
        operation_id="events_import",
        request={
            "application/x-ndjson": {
                "type": "string",
                "format": "binary",
                "description": "One event object per line, with the fields of POST /events",
            }
        },
        responses={202: ImportJobOutput, **problems(400, 415)},
        description="NDJSON of any length, one event per line; processed in the background.",
    )
    def post(self, request: Request) -> Response:
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type not in NDJSON_TYPES:
            raise UnsupportedMediaType(content_type or "none", detail="Send application/x-ndjson.")
        job = imports.import_job_create(tenant=self.tenant, lines=iter(request._request))
        job.refresh_from_db()
        response = Response(ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("event-import-detail", args=[job.pk])
        return response


class EventImportDetailApi(TenantAPIView):
    scopes = {"GET": ("ingest", "read")}

    @extend_schema(
        operation_id="events_import_retrieve", responses={200: ImportJobOutput, **problems(404)}
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = get_for_tenant_or_404(
            ImportJob.objects, self.tenant, f"No import {job_id}.", pk=job_id
        )
        return Response(ImportJobOutput(job).data)


class FailedBatchOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    events = serializers.IntegerField(help_text="Events of the batch (0 for a change or a void)")
    failed_at = serializers.DateTimeField(help_text="When the last attempt failed")
    attempts = serializers.IntegerField()
    retry_at = serializers.DateTimeField(
        allow_null=True, help_text="When it is tried again (at once after a void or a rebuild)"
    )
    error = serializers.CharField(help_text="What went wrong the last time")


class IngestStatusOutput(serializers.Serializer[Any]):
    pending = serializers.IntegerField(help_text="Events stored but not yet applied downstream")
    oldest_pending_at = serializers.DateTimeField(
        allow_null=True,
        help_text="Oldest batch or change not yet applied; null when everything is applied",
    )
    recomputing = serializers.BooleanField(
        help_text="A settings, rule or badge change is still being recomputed downstream"
    )
    failed = serializers.IntegerField(
        help_text="Events in batches set aside because applying them failed"
    )
    failed_batches = FailedBatchOutput(
        many=True, help_text="The latest batches set aside, with their errors (at most 20)"
    )


class IngestStatusApi(TenantAPIView):
    scopes = {"GET": ("ingest", "read")}

    @extend_schema(operation_id="ingest_status", responses={200: IngestStatusOutput, **problems()})
    def get(self, request: Request) -> Response:
        return Response(IngestStatusOutput(ingest.ingest_status(tenant=self.tenant)).data)


# --- catalogue ------------------------------------------------------------------------------
class KpiOutput(serializers.Serializer[CatalogueKpi]):
    code = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.ChoiceField(choices=Kpi.Unit.choices)
    direction = serializers.ChoiceField(choices=Kpi.Direction.choices)
    min_volume = serializers.DecimalField(max_digits=18, decimal_places=3, coerce_to_string=False)
    aggregation = serializers.ChoiceField(choices=Kpi.Aggregation.choices)
    custom = serializers.BooleanField()
    threshold_seconds = serializers.SerializerMethodField()
    short_abandon_seconds = serializers.SerializerMethodField()

    def get_threshold_seconds(self, kpi: CatalogueKpi) -> int | None:
        return kpi.settings.get("threshold_seconds")

    def get_short_abandon_seconds(self, kpi: CatalogueKpi) -> int | None:
        return kpi.settings.get("short_abandon_seconds")


class KpiCreateInput(StrictSerializer):
    code = StrictCharField(max_length=40)
    name = StrictCharField(max_length=200)
    unit = serializers.ChoiceField(choices=Kpi.Unit.values)
    direction = serializers.ChoiceField(choices=Kpi.Direction.values)
    aggregation = serializers.ChoiceField(choices=Kpi.Aggregation.values)
    min_volume = StrictNumberField(
        default=Decimal(0), minimum=0, below=catalogue_services.MAX_VOLUME
    )


def _setting_field(name: str) -> StrictIntegerField:
    low, high = catalogue_services.SETTING_RANGES[name]
    return StrictIntegerField(min_value=low, max_value=high, required=False)


class KpiUpdateInput(StrictSerializer):
    name = StrictCharField(max_length=200, required=False)
    min_volume = StrictNumberField(required=False, minimum=0, below=catalogue_services.MAX_VOLUME)
    threshold_seconds = _setting_field("threshold_seconds")
    short_abandon_seconds = _setting_field("short_abandon_seconds")


class KpiListApi(TenantAPIView):
    @extend_schema(operation_id="kpis_list", responses={200: page_of(KpiOutput), **problems()})
    def get(self, request: Request) -> Response:
        kpis = list(kpi_catalogue(self.tenant).values())
        data = KpiOutput(kpis, many=True).data  # type: ignore[arg-type]
        return Response({"results": data, "next": None})

    @extend_schema(
        operation_id="kpis_create",
        request=KpiCreateInput,
        responses={201: KpiOutput, **problems(400, 409)},
        description="Add a custom KPI fed by `metric` events (sum or ratio of value / count).",
    )
    def post(self, request: Request) -> Response:
        data = KpiCreateInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        kpi = catalogue_services.kpi_create(tenant=self.tenant, **data.validated_data)
        return Response(KpiOutput(kpi).data, status=status.HTTP_201_CREATED)


class KpiDetailApi(TenantAPIView):
    def _kpi(self, code: str) -> CatalogueKpi:
        kpi = kpi_catalogue(self.tenant).get(code)
        if kpi is None:
            raise NotFoundError(f"No KPI {code!r}.")
        return kpi

    @extend_schema(operation_id="kpis_retrieve", responses={200: KpiOutput, **problems(404)})
    def get(self, request: Request, code: str) -> Response:
        return Response(KpiOutput(self._kpi(code)).data)

    @extend_schema(
        operation_id="kpis_update",
        request=KpiUpdateInput,
        responses={200: KpiOutput, **problems(400, 404)},
        description=(
            "Change `min_volume`, or the interaction settings `threshold_seconds` "
            "(service_level) and `short_abandon_seconds` (abandon_rate and service_level — one "
            "tenant setting shown on both). A settings change recomputes the buckets."
        ),
    )
    def patch(self, request: Request, code: str) -> Response:
        self._kpi(code)
        data = KpiUpdateInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        kpi = catalogue_services.kpi_update(tenant=self.tenant, code=code, **data.validated_data)
        return Response(KpiOutput(kpi).data)


# --- KPI queries ----------------------------------------------------------------------------
class KpiValueOutput(serializers.Serializer[Any]):
    value = serializers.FloatField(allow_null=True)
    numerator = serializers.FloatField()
    denominator = serializers.FloatField()
    volume = serializers.FloatField()
    qualified = serializers.BooleanField()


class PeriodOutput(serializers.Serializer[Any]):
    type = serializers.ChoiceField(
        choices=["day", "week", "month", "quarter", "year", "all", "custom"]
    )
    start = serializers.DateTimeField(allow_null=True)
    end = serializers.DateTimeField(allow_null=True)


class KpisOutput(serializers.Serializer[Any]):
    period = PeriodOutput()
    kpis = serializers.DictField(child=KpiValueOutput(), help_text="By KPI code")


class SeriesPointOutput(serializers.Serializer[Any]):
    start = serializers.DateTimeField()
    value = serializers.FloatField(allow_null=True)
    numerator = serializers.FloatField()
    denominator = serializers.FloatField()
    volume = serializers.FloatField()


class SeriesOutput(serializers.Serializer[Any]):
    kpi = serializers.CharField()
    period = PeriodOutput()
    granularity = serializers.ChoiceField(choices=["hour", "day", "week", "month"])
    points = SeriesPointOutput(many=True)


def _kpis_body(period: Period, values: dict[str, Any], tz: Any) -> dict[str, Any]:
    return {
        "period": period.as_dict(tz),
        "kpis": {code: value.as_dict() for code, value in values.items()},
    }


class AgentKpisApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="agents_kpis",
        parameters=PERIOD_PARAMETERS,
        responses={200: KpisOutput, **problems(400, 404)},
    )
    def get(self, request: Request, external_id: str) -> Response:
        agent = self.get_agent(external_id)
        period = parse_period(request.query_params, self.tenant)
        values = agent_kpis(tenant=self.tenant, agent=agent, period=period)
        return Response(_kpis_body(period, values, self.tenant.tz))


class TeamKpisApi(TenantAPIView):
    @extend_schema(
        operation_id="teams_kpis",
        parameters=PERIOD_PARAMETERS,
        responses={200: KpisOutput, **problems(400, 404)},
        description="A team's KPIs include its sub-teams and its team-level events.",
    )
    def get(self, request: Request, external_id: str) -> Response:
        team = self.get_team(external_id)
        period = parse_period(request.query_params, self.tenant)
        values = team_kpis(tenant=self.tenant, team=team, period=period)
        return Response(_kpis_body(period, values, self.tenant.tz))


SERIES_PARAMETERS = [
    *PERIOD_PARAMETERS,
    OpenApiParameter("granularity", str, enum=["hour", "day", "week", "month"]),
]


class _SeriesApi(TenantAPIView):
    def series(self, code: str, **subject: Any) -> Response:
        params = self.request.query_params
        period = parse_period(params, self.tenant, default="week")
        granularity = params.get("granularity", "day")
        points = kpi_series(
            tenant=self.tenant, code=code, period=period, granularity=granularity, **subject
        )
        return Response(
            {
                "kpi": code,
                "period": period.as_dict(self.tenant.tz),
                "granularity": granularity,
                "points": points,
            }
        )


class AgentSeriesApi(_SeriesApi):
    widget_access = True

    @extend_schema(
        operation_id="agents_kpi_series",
        parameters=SERIES_PARAMETERS,
        responses={200: SeriesOutput, **problems(400, 404)},
    )
    def get(self, request: Request, external_id: str, code: str) -> Response:
        return self.series(code, agent=self.get_agent(external_id))


class TeamSeriesApi(_SeriesApi):
    @extend_schema(
        operation_id="teams_kpi_series",
        parameters=SERIES_PARAMETERS,
        responses={200: SeriesOutput, **problems(400, 404)},
    )
    def get(self, request: Request, external_id: str, code: str) -> Response:
        return self.series(code, team=self.get_team(external_id))
