"""Start-up guards for the processes that serve (web, Celery): settings they cannot run without."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

NO_KEY_MESSAGE = "SECRET_KEY: must be set when DEBUG is false (make run sets DEBUG=true for you)"


def require_secret_key() -> None:
    if not settings.SECRET_KEY:
        raise ImproperlyConfigured(NO_KEY_MESSAGE)


@register(deploy=True)
def secret_key_check(app_configs: object, **kwargs: object) -> list[Error]:
    """`manage.py check --deploy` names a missing SECRET_KEY."""
    return [] if settings.SECRET_KEY else [Error(NO_KEY_MESSAGE, id="gamify.E001")]
