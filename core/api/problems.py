"""RFC 9457 problem details for every error under /api/.

Three places produce errors, and all three answer `application/problem+json`:
* domain code (services, selectors, periods) raises `core.errors.ApplicationError`s, which
  carry their own type, title and status: `exception_handler`;
* DRF views raise `APIException`s (HTTP-layer code with a type of its own raises `Problem`):
  `exception_handler` too;
* anything that escapes a view (a bug) or never reaches one (an unknown URL, a body over the
  size limit): `ProblemDetailsMiddleware`.

A database that cannot be reached (restarting, failing over, refusing connections) is not the
request's fault nor a bug: wherever it surfaces it is a 503 with `Retry-After`, so clients
retry instead of giving up on a 500 (`database_unavailable`).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import ApplicationError

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"

TITLES = {
    400: "Invalid request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
SLUGS = {
    400: "validation-error",
    401: "not-authenticated",
    403: "permission-denied",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "request-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
    500: "server-error",
    503: "unavailable",
}


class Problem(exceptions.APIException):
    """An HTTP-layer error with its own problem type and headers (e.g. an Idempotency-Key still
    in progress: 409 with Retry-After). Domain code raises `core.errors` instead."""

    status_code: int = status.HTTP_409_CONFLICT
    slug = "conflict"
    title = "Conflict"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class DatabaseUnavailable(Problem):
    """503: the database could not be reached or dropped the connection; try again soon."""

    status_code = 503
    slug = "database-unavailable"
    title = "Service unavailable"


# How long a client should wait before sending again after a database outage: PostgreSQL
# restarts and fails over in a few seconds; a shorter wait only adds load while it comes back.
DATABASE_RETRY_AFTER_SECONDS = 3
# Errors of the connection or the server, not of the query a request made (psycopg's
# OperationalError covers refused and dropped connections, an administrator's shutdown,
# a server starting up, a statement cancelled; InterfaceError a connection already closed).
DATABASE_DOWN: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


def database_unavailable(exc: Exception) -> DatabaseUnavailable:
    """The problem a database outage becomes (logged once, without a traceback: it is not a
    bug, and an outage would otherwise flood the logs)."""
    log.warning("Database unavailable: %s: %s", type(exc).__name__, str(exc).strip()[:300])
    return DatabaseUnavailable(
        "The database is unavailable for a moment. Send the request again after Retry-After "
        "seconds (events are idempotent by event_id; other writes take an Idempotency-Key).",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def problem_body(
    status_code: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or SLUGS.get(status_code, "error")),
        "title": title or TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "errors": dict(errors or {}),
    }
    if extra:
        body.update(extra)
    return body


def problem_response(status_code: int, detail: str, **kwargs: Any) -> HttpResponse:
    """A plain Django response, for places outside DRF (middleware, URL handlers)."""
    headers = kwargs.pop("headers", None) or {}
    response = HttpResponse(
        json.dumps(problem_body(status_code, detail, **kwargs)),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in headers.items():
        response[name] = value
    return response


def problem_of(problem: Problem) -> HttpResponse:
    """A `Problem` as a plain Django response (outside DRF)."""
    return problem_response(
        problem.status_code,
        str(problem.detail),
        slug=problem.slug,
        title=problem.title,
        errors=problem.errors,
        extra=problem.extra,
        headers=problem.headers,
    )


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as {"field.sub.0": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = "non_field_errors" if key == "non_field_errors" and not prefix else str(key)
            out.update(flatten_errors(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(detail, list):
        if all(not isinstance(item, Mapping | list) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every API exception as problem+json."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, DATABASE_DOWN):
        exc = database_unavailable(exc)
    if isinstance(exc, ApplicationError):
        set_rollback()
        code = exc.status_code
        retry_after = getattr(exc, "retry_after", None)
        return Response(
            problem_body(
                code,
                exc.detail,
                slug=exc.slug,
                title=exc.title,
                errors=exc.errors,
                extra=exc.extra,
            ),
            status=code,
            content_type=PROBLEM_CONTENT_TYPE,
            headers={"Retry-After": str(retry_after)} if retry_after else None,
        )
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: the middleware logs it and answers 500

    headers: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    extra: dict[str, Any] = {}
    slug = title = None
    detail: str
    if isinstance(exc, Problem):
        detail = str(exc.detail)
        errors, headers, extra = exc.errors, exc.headers, exc.extra
        slug, title = exc.slug, exc.title
    elif isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        first_field, messages = next(iter(errors.items()), ("", ["Invalid input."]))
        detail = f"{first_field}: {messages[0]}" if first_field else messages[0]
    else:
        detail = str(exc.detail if not isinstance(exc.detail, list | dict) else exc.default_detail)
        if isinstance(exc, exceptions.ParseError):
            errors = {"body": [detail]}
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
        exc.status_code = status.HTTP_401_UNAUTHORIZED

    set_rollback()
    return Response(
        problem_body(exc.status_code, detail, slug=slug, title=title, errors=errors, extra=extra),
        status=exc.status_code,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = (
        f"The request body is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes allowed."
    )
    default_code = "request_too_large"


class ProblemDetailsMiddleware:
    """Keeps /api/ answering problem+json whatever happens below it.

    * refuses a body over the size limit before anything reads it (413);
    * turns an unhandled exception into a logged 500 problem (never a traceback page);
    * rewrites a non-JSON error page (Django's 404 for an unknown URL, CSRF failure …).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @staticmethod
    def is_api(request: HttpRequest) -> bool:
        return request.path.startswith("/api/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.is_api(request):
            return self.get_response(request)
        length = request.META.get("CONTENT_LENGTH") or "0"
        limit = self.body_limit(request)
        if length.isdigit() and int(length) > limit:
            return problem_response(
                413, f"The request body is larger than the {limit} bytes allowed."
            )
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if response.status_code >= 400 and "json" not in content_type:
            reason = response.reason_phrase or TITLES.get(response.status_code, "Error")
            detail = {404: f"No API resource at {request.path}."}.get(response.status_code, reason)
            return problem_response(response.status_code, detail)
        return response

    @staticmethod
    def body_limit(request: HttpRequest) -> int:
        # Streaming imports (NDJSON) are not limited here: they are read line by line.
        if request.path.endswith("/events/import") and request.method == "POST":
            return 2**40
        return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not self.is_api(request):
            return None
        if isinstance(exception, RequestDataTooBig):
            return problem_response(413, str(RequestTooLarge.default_detail))
        if isinstance(exception, Http404):
            return problem_response(404, "Not found.")
        if isinstance(exception, DATABASE_DOWN):
            return problem_of(database_unavailable(exception))
        log.exception("Unhandled error serving %s %s", request.method, request.path)
        return problem_response(500, "An unexpected error occurred; it has been logged.")


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: what escaped a middleware rather than a view (a view's error is answered
    above). A database outage is a 503 with Retry-After there too — on the admin and widget
    pages as on /api/ — and anything else the usual 500."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_DOWN):
        problem = database_unavailable(exc)
        if ProblemDetailsMiddleware.is_api(request):
            return problem_of(problem)
        response = HttpResponse(
            "<!doctype html><title>Service unavailable</title>"
            "<h1>Service unavailable</h1><p>Please try again in a few seconds.</p>",
            status=503,
        )
        response["Retry-After"] = problem.headers["Retry-After"]
        return response
    if ProblemDetailsMiddleware.is_api(request):
        return problem_response(500, "An unexpected error occurred; it has been logged.")
    return defaults.server_error(request)
