"""Domain errors: what services, selectors and period code raise when a request cannot be met.

Plain Python (HackSoft's `ApplicationError` pattern): the domain says *what* went wrong, with
a stable problem type (`slug`), a title, the status a client is answered with (plain data
of the problem type, like its slug) and the offending fields; the HTTP layer's one exception
handler (core/api/problems.py) turns it into problem+json. No DRF here, so the admin, the
commands and Celery tasks raise and catch the same errors the API answers with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApplicationError(Exception):
    """A request the domain refuses; subclasses name the kind (`slug`) and its `title`.

    `detail` says what happened in this case, `errors` lists messages per offending field and
    `extra` carries members a problem type adds (e.g. insufficient-funds: balance, needed).
    """

    status_code = 409
    slug = "conflict"
    title = "Conflict"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Mapping[str, list[str]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail: str = detail or self.title
        self.errors: dict[str, list[str]] = dict(errors or {})
        self.extra: dict[str, Any] = dict(extra or {})
        super().__init__(self.detail)


class NotFoundError(ApplicationError):
    """The thing named does not exist for this tenant (another tenant's is not found either)."""

    status_code = 404
    slug = "not-found"
    title = "Not found"


class InvalidInputError(ApplicationError):
    """Input that breaks a rule, naming the offending fields: `{"field": "message"}`."""

    status_code = 400
    slug = "validation-error"
    title = "Invalid request"

    def __init__(self, errors: Mapping[str, list[str] | str], detail: str | None = None) -> None:
        normalized = {k: [v] if isinstance(v, str) else list(v) for k, v in errors.items()}
        first = next(iter(normalized.items()), None)
        super().__init__(
            detail or (f"{first[0]}: {first[1][0]}" if first else self.title), errors=normalized
        )


class ConflictError(ApplicationError):
    """The request is valid but clashes with the current state (a closed contest, an empty
    wallet, a code already taken); subclasses give the clash its own problem type."""


class BusyError(ApplicationError):
    """The tenant is busy (a lock held by a long recompute) past what a request may wait;
    the same request will do after `retry_after` seconds."""

    status_code = 503
    slug = "busy"
    title = "Busy, try again shortly"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
