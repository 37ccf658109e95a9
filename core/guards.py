"""Start-up guards for the processes that serve (web, Celery): settings they cannot run without."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

NO_KEY_MESSAGE = "SECRET_KEY: must be set when DEBUG is false (make run sets DEBUG=true for you)"


def require_secret_key() -> None:
    if not settings.SECRET_KEY:
        raise ImproperlyConfigured(NO_KEY_MESSAGE)


@register(deploy=True)
def secret_key_check(app_configs: object, **kwargs: object) -> list[Error]:
    """`manage.py check --deploy` names a missing SECRET_KEY."""
    return [] if settings.SECRET_KEY else [Error(NO_KEY_MESSAGE, id="gamify.E001")]


CSRF_MIDDLEWARE = "core.middleware.CsrfViewMiddleware"


@register(deploy=True)
def csrf_middleware_check(app_configs: object, **kwargs: object) -> list[Warning]:
    """Django's own check (security.W003, silenced in settings) looks for its CSRF middleware
    by name and cannot see our subclass, which only skips /api/ (DRF checks CSRF there itself,
    for session-authenticated requests). This one looks for the subclass."""
    if CSRF_MIDDLEWARE in settings.MIDDLEWARE:
        return []
    return [
        Warning(
            f"{CSRF_MIDDLEWARE} is not in MIDDLEWARE: the admin's forms lose CSRF protection.",
            id="gamify.W003",
        )
    ]
