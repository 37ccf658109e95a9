"""Who is acting, carried through a request (or a command, or a task) by a context variable.

Services record audit entries without an `actor` argument threaded through every call: they ask
`current_actor()`. The variable holds either a fixed `Actor` (a command, a task, a test) or the
request being served, resolved when an entry is written: DRF's authentication sets the Django
request's `user` to the API `Principal` (an API key, or a manager's session), the admin's
authentication middleware to the logged-in user. `ActorMiddleware` sets it per request, so an
admin edit and an API call record who did them through the same service code.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest

from accounts.models import ApiKey


@dataclass(frozen=True)
class Actor:
    """`id` is the stable credential ("user:7", "key:Ab12cD34", "system", "command:…");
    `name` what a reader recognises (a username, an API key's name)."""

    id: str
    name: str = ""

    @property
    def kind(self) -> str:
        head = self.id.partition(":")[0]
        return {"user": "user", "key": "api_key", "widget": "widget"}.get(head, "system")


SYSTEM = Actor("system", "system")
_process_default: Actor = SYSTEM
_current: ContextVar[Actor | HttpRequest | None] = ContextVar("gamify_actor", default=None)

# Commands whose writes are the command's own (`manage.py import_game` is "command:import_game");
# a server or worker process serves requests and tasks, recorded as their callers or "system".
_SERVING = {"runserver", "celery", "shell", "test", "migrate"}


def set_process_default_from_argv(argv: list[str] | None = None) -> None:
    """Under `manage.py <command>`, changes not made for a request are the command's."""
    global _process_default
    argv = sys.argv if argv is None else argv
    if len(argv) > 1 and argv[0].endswith("manage.py") and argv[1] not in _SERVING:
        _process_default = Actor(f"command:{argv[1]}", argv[1])


def _from_request(request: HttpRequest) -> Actor | None:
    user: Any = getattr(request, "user", None)
    if user is None:
        return None
    credential = getattr(user, "credential", None)
    if isinstance(credential, str):  # the API's Principal
        return Actor(credential, _principal_name(user, credential))
    if getattr(user, "is_authenticated", False):
        return Actor(f"user:{user.pk}", user.get_username())
    return None


def _principal_name(principal: Any, credential: str) -> str:
    if principal.user_id is not None:
        user = get_user_model().objects.filter(pk=principal.user_id).first()
        return user.get_username() if user is not None else credential
    if credential.startswith("key:"):
        name = ApiKey.objects.filter(prefix=credential[4:]).values_list("name", flat=True).first()
        return name or credential
    return credential


def current_actor() -> Actor:
    """The actor of the running request, command or task ("system" when nobody is known)."""
    held = _current.get()
    if isinstance(held, Actor):
        return held
    if held is not None:
        found = _from_request(held)
        if found is not None:
            return found
    return _process_default


@contextmanager
def acting_as(actor: Actor | HttpRequest) -> Iterator[None]:
    """Run a block as `actor` (a task, a command, a test), or as a request's caller."""
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)
