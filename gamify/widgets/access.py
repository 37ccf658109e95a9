"""Who a widget page is for: the token in `?token=` resolved to an agent or a team.

Pages are plain Django views (HTML, not the JSON API), so they resolve the token here and
turn every failure into a small 401 page in the agent's language, never a stack trace.
A resolved token is remembered in this process, so a page polling for changes costs no query
to authenticate: for `LOCAL_SECONDS` in the embedded default, and for `SHARED_SECONDS` where
the version stamps are shared (Redis) — there a page that finds the tenant's epoch stamp newer
than its viewer resolves the token again (`stale`): saving an agent (deactivating it) moves
that stamp, so a deactivated agent is refused on its next poll. An expired token is refused
on the first poll after its expiry either way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core import signing
from django.http import HttpRequest
from django.utils.translation import get_supported_language_variant

from accounts.api.auth import widget_token_payload
from accounts.models import Agent, Team, Tenant

LANGUAGES = ("en", "zh-hans", "zh-hant", "fa")
RTL = frozenset({"fa"})
LOCAL_SECONDS = 5.0
SHARED_SECONDS = 60.0
_resolved: dict[str, tuple[float, Viewer]] = {}


@dataclass(frozen=True)
class Viewer:
    tenant: Tenant
    agent: Agent | None = None  # an agent's token: its card, leaderboard and store
    team: Team | None = None  # a team's token: its wallboard
    expires: int = 0  # the token's expiry (Unix seconds)
    resolved_ns: int = 0  # when it was resolved (time.time_ns(), as the version stamps)

    @property
    def key(self) -> str:
        return f"a{self.agent.pk}" if self.agent else f"m{self.team.pk if self.team else 0}"


class WidgetDenied(Exception):
    """The token does not open this page; `lang` is the agent's language when known."""

    def __init__(self, reason: str, lang: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # missing | invalid | expired | inactive | wrong-kind
        self.lang = lang


def language(code: str | None) -> str | None:
    """Our language for a locale code (`zh-Hant`, `fa-IR`, `zh_TW` …), or None."""
    if not code:
        return None
    code = code.strip().replace("_", "-").lower()
    aliases = {"zh-cn": "zh-hans", "zh-sg": "zh-hans", "zh-tw": "zh-hant", "zh-hk": "zh-hant"}
    code = aliases.get(code, code)
    if code in LANGUAGES:
        return code
    try:
        variant = get_supported_language_variant(code)
    except LookupError:
        return None
    return variant if variant in LANGUAGES else None


def request_language(request: HttpRequest, agent: Agent | None) -> str:
    """`?lang=` first, then the agent's locale, then the browser's, then English."""
    chosen = language(request.GET.get("lang"))
    if chosen:
        return chosen
    if agent is not None and (own := language(agent.locale)):
        return own
    for part in request.META.get("HTTP_ACCEPT_LANGUAGE", "").split(","):
        if found := language(part.split(";")[0]):
            return found
    return "en"


def resolve(token: str | None, *, shared: bool = False) -> Viewer:
    """The viewer a token stands for; WidgetDenied says why not. `shared`: the version stamps
    are shared, so the caller checks the remembered viewer against the epoch (`stale`)."""
    if not token:
        raise WidgetDenied("missing")
    now = time.monotonic()
    cached = _resolved.get(token)
    keep = SHARED_SECONDS if shared else LOCAL_SECONDS
    if cached is not None and now - cached[0] < keep:
        viewer = cached[1]
        if viewer.expires >= time.time():
            return viewer
        _resolved.pop(token, None)
        lang = language(viewer.agent.locale) if viewer.agent else None
        raise WidgetDenied("expired", lang)
    viewer = _resolve(token)
    if len(_resolved) > 20_000:
        _resolved.clear()
    _resolved[token] = (now, viewer)
    return viewer


def stale(viewer: Viewer, epoch: int) -> bool:
    """Whether the tenant's epoch stamp moved since `viewer` was resolved (its clock read
    before the agent was: a save committed during the read stamps later). Hosts whose clocks
    differ may miss a move by the difference; the viewer is then kept SHARED_SECONDS at most."""
    return epoch >= viewer.resolved_ns


def recheck(viewer: Viewer, token: str | None, epoch: int) -> None:
    """A remembered viewer checked against the tenant's epoch stamp read with the page's
    other stamps: when it moved since the viewer was resolved (an agent saved — this one
    deactivated, perhaps), the token is resolved again from the database; WidgetDenied when
    it no longer stands. Every page that trusts a remembered viewer asks this."""
    if stale(viewer, epoch):
        resolve_again(token or "")


def resolve_again(token: str) -> Viewer:
    """The token resolved from the database, whatever this process remembered."""
    _resolved.pop(token, None)
    return resolve(token, shared=True)


def _resolve(token: str) -> Viewer:
    started_ns = time.time_ns()
    try:
        data = widget_token_payload(token)
    except signing.BadSignature as exc:
        raise WidgetDenied("invalid") from exc
    tenant_id = data["t"]
    agent_id, team_id = data.get("a"), data.get("m")
    agent = None
    if isinstance(agent_id, int):
        # The tenant in the token must be the agent's: a token for another tenant's agent id
        # is refused like a deactivated agent, saying nothing of who that id is.
        agent = (
            Agent.objects.select_related("tenant", "team")
            .filter(pk=agent_id, tenant_id=tenant_id)
            .first()
        )
    lang = language(agent.locale) if agent else None
    if not isinstance(data.get("e"), int) or data["e"] < time.time():
        raise WidgetDenied("expired", lang)
    if isinstance(team_id, int):
        team = Team.objects.select_related("tenant").filter(pk=team_id, tenant_id=tenant_id).first()
        if team is None:
            raise WidgetDenied("inactive")
        return Viewer(tenant=team.tenant, team=team, expires=data["e"], resolved_ns=started_ns)
    if agent is None or not agent.active:
        raise WidgetDenied("inactive", lang)
    return Viewer(tenant=agent.tenant, agent=agent, expires=data["e"], resolved_ns=started_ns)


def forget() -> None:
    """Drop this process's remembered tokens (tests that deactivate an agent)."""
    _resolved.clear()
