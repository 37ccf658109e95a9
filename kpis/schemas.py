"""The event wire format (API.md, Events), validated with pydantic v2.

Pydantic validates a batch of 1000 events ~13× faster than DRF serializers (PERF-NOTES.md), and
the same models generate the OpenAPI schema, so the hot path and the docs cannot drift apart.
Numbers and booleans are strict (a string "5" or "true" is an error); times must carry an
offset; unknown fields are errors.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, cast

from django.core.validators import ProhibitNullCharactersValidator
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from accounts.services import external_id_errors
from core.times import EARLIEST_TIME, EVENT_TOO_OLD

MAX_DURATION = 86_400  # seconds: nothing we ingest lasts longer than a day
FUTURE_TOLERANCE = timedelta(minutes=15)
MAX_BATCH = 1000

EventId = Annotated[str, Field(min_length=1, max_length=128, strict=True)]
ExternalId = Annotated[str, Field(min_length=1, max_length=128, strict=True)]
Seconds = Annotated[float, Field(ge=0, le=MAX_DURATION, strict=True, allow_inf_nan=False)]


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError(
            "iso_text", "Give an ISO 8601 time with its UTC offset, as a string."
        )
    return value


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: EventId
    # A number (Unix time) is refused: API.md fixes ISO 8601 with an offset.
    occurred_at: Annotated[AwareDatetime, BeforeValidator(_iso_text)]
    agent: ExternalId | None = Field(default=None, description="The agent's external id")
    team: ExternalId | None = Field(
        default=None,
        description="A team's external id: for team-level events (no agent), or to attribute "
        "an agent's event to a team other than the agent's at the time",
    )


class InteractionEvent(_Event):
    """A call, chat, email … handled (or not) in a queue."""

    type: Literal["interaction"]
    channel: Literal["voice", "chat", "email", "social", "sms", "video"] = "voice"
    direction: Literal["inbound", "outbound"] = "inbound"
    queue: Annotated[str, Field(max_length=128, strict=True)] | None = None
    offered: StrictBool = True
    answered: StrictBool = False
    abandoned: StrictBool = False
    blocked: StrictBool = False
    wait_seconds: Seconds = 0.0
    talk_seconds: Seconds = 0.0
    hold_seconds: Seconds = 0.0
    acw_seconds: Seconds = 0.0
    transferred: StrictBool = False
    resolved_first_contact: StrictBool | None = None
    save_attempt: StrictBool = False
    saved: StrictBool = False


class SurveyEvent(_Event):
    """A customer survey response: any of CSAT (1–5), NPS (0–10), CES (1–7)."""

    type: Literal["survey"]
    csat: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    nps: Annotated[StrictInt, Field(ge=0, le=10)] | None = None
    ces: Annotated[StrictInt, Field(ge=1, le=7)] | None = None
    interaction_id: Annotated[str, Field(max_length=128, strict=True)] | None = None


class QaEvaluationEvent(_Event):
    type: Literal["qa_evaluation"]
    score: Annotated[float, Field(ge=0, le=100, strict=True, allow_inf_nan=False)]
    interaction_id: Annotated[str, Field(max_length=128, strict=True)] | None = None
    evaluator: Annotated[str, Field(max_length=200, strict=True)] | None = None


class AdherenceEvent(_Event):
    type: Literal["adherence"]
    scheduled_seconds: Seconds
    adherent_seconds: Seconds


class MetricEvent(_Event):
    """A value for one of the tenant's custom KPIs."""

    type: Literal["metric"]
    kpi: Annotated[str, Field(min_length=1, max_length=40, strict=True)]
    value: Annotated[float, Field(ge=-1e12, le=1e12, strict=True, allow_inf_nan=False)]
    count: Annotated[float, Field(ge=0, le=1e9, strict=True, allow_inf_nan=False)] = 1.0


Event = Annotated[
    InteractionEvent | SurveyEvent | QaEvaluationEvent | AdherenceEvent | MetricEvent,
    Field(discriminator="type"),
]
EVENT_TYPES = ("interaction", "survey", "qa_evaluation", "adherence", "metric")
TYPE_CODES = {name: i + 1 for i, name in enumerate(EVENT_TYPES)}
TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()}


class EventBatch(BaseModel):
    """Up to 1000 events; valid ones are stored even when others are rejected."""

    model_config = ConfigDict(extra="forbid")  # an unknown top-level field is a 400
    events: Annotated[list[Event], Field(min_length=1, max_length=MAX_BATCH)]


class RejectedEvent(BaseModel):
    index: int
    event_id: str | None
    errors: dict[str, list[str]]


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]


_EVENT: TypeAdapter[Any] = TypeAdapter(cast(Any, Event))
_EVENTS: TypeAdapter[list[Any]] = TypeAdapter(list[Event])
_ENVELOPE = {"event_id", "type", "occurred_at", "agent", "team"}
# Free-text fields per type (agent and team are checked as external ids): PostgreSQL cannot
# store NUL. Per type, because asking a pydantic model for a field it lacks costs ~1 µs.
_TEXT_FIELDS = {
    "interaction": ("event_id", "queue"),
    "survey": ("event_id", "interaction_id"),
    "qa_evaluation": ("event_id", "interaction_id", "evaluator"),
    "adherence": ("event_id",),
    "metric": ("event_id", "kpi"),
}


def _errors_from(exc: ValidationError, *, strip: int) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in error["loc"][strip:]]
        if loc and loc[0] in EVENT_TYPES:  # the discriminated union's tag
            loc = loc[1:]
        name = ".".join(loc) or "non_field_errors"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "Unknown field."
        elif error["type"] == "timezone_aware":
            message = "Give the time with its UTC offset, e.g. 2026-11-20T09:15:00+08:00."
        elif error["type"] == "union_tag_invalid":
            name, message = "type", f"Must be one of {', '.join(EVENT_TYPES)}."
        elif error["type"] == "union_tag_not_found":
            name, message = "type", "This field is required."
        errors.setdefault(name, []).append(message)
    return errors


def _business_errors(event: Any, now: datetime) -> dict[str, list[str]]:
    """Rules that span fields, checked after the types are right."""
    errors: dict[str, list[str]] = {}
    if event.agent is None and event.team is None:
        errors["agent"] = ["An event needs an agent, a team, or both."]
    for name in ("agent", "team"):
        value = getattr(event, name)
        if value is not None and (problems := external_id_errors(value)):
            errors[name] = problems
    for name in _TEXT_FIELDS[event.type]:
        value = getattr(event, name)
        if value is not None and "\x00" in value:
            errors[name] = [str(ProhibitNullCharactersValidator.message)]  # as in other bodies
    # Compared, never converted: converting a time near year 1 or 9999 overflows.
    if event.occurred_at < EARLIEST_TIME:
        errors["occurred_at"] = [EVENT_TOO_OLD]
    elif event.occurred_at - now > FUTURE_TOLERANCE:
        errors["occurred_at"] = ["More than 15 minutes in the future."]
    if event.type == "interaction":
        if event.answered and event.abandoned:
            errors["abandoned"] = ["An interaction cannot be both answered and abandoned."]
        if event.answered and event.blocked:
            errors["blocked"] = ["An interaction cannot be both answered and blocked."]
        if event.saved and not event.save_attempt:
            errors["saved"] = ["A save needs save_attempt = true."]
    elif event.type == "survey":
        if event.csat is None and event.nps is None and event.ces is None:
            errors["csat"] = ["A survey needs at least one of csat, nps or ces."]
    elif event.type == "adherence":
        if event.adherent_seconds > event.scheduled_seconds:
            errors["adherent_seconds"] = ["Cannot exceed scheduled_seconds."]
    elif event.type == "metric" and not math.isfinite(event.value):
        errors["value"] = ["Must be a finite number."]
    return errors


def validate_events(
    items: list[Any], *, now: datetime | None = None
) -> tuple[list[tuple[int, Any]], list[dict[str, Any]]]:
    """Split a batch into valid events [(index, event)] and rejections [{index, event_id, errors}].

    The whole list is validated in one call (the common, all-valid case); only when something
    fails is each item validated on its own to attribute the errors.
    """
    now = now or datetime.now(UTC)
    try:
        parsed: list[Any] = _EVENTS.validate_python(items)
        candidates = list(enumerate(parsed))
        rejected: list[dict[str, Any]] = []
    except ValidationError:
        candidates, rejected = [], []
        for index, item in enumerate(items):
            try:
                candidates.append((index, _EVENT.validate_python(item)))
            except ValidationError as exc:
                rejected.append(_rejection(index, item, _errors_from(exc, strip=0)))
    valid: list[tuple[int, Any]] = []
    for index, event in candidates:
        errors = _business_errors(event, now)
        if errors:
            rejected.append(_rejection(index, items[index], errors))
        else:
            valid.append((index, event))
    rejected.sort(key=lambda r: r["index"])
    return valid, rejected


def _rejection(index: int, item: Any, errors: dict[str, list[str]]) -> dict[str, Any]:
    event_id = item.get("event_id") if isinstance(item, dict) else None
    return {
        "index": index,
        "event_id": _shown(event_id) if isinstance(event_id, str) else None,
        "errors": {_shown(name): messages for name, messages in errors.items()},
    }


def _shown(text: str) -> str:
    """Sent text as a rejection echoes it, a NUL shown as U+FFFD: import jobs keep their
    rejections as JSON in PostgreSQL, which cannot store NUL."""
    return text.replace("\x00", "\ufffd")


def payload_of(event: Any) -> dict[str, Any]:
    """The type-specific fields of a validated event, as stored in the raw event's payload.

    Payload fields are all JSON scalars (no times), so the model's own values serve as is —
    several times faster than `model_dump` on the ingestion hot path.
    """
    return {k: v for k, v in event.__dict__.items() if k not in _ENVELOPE}
