"""The widget pages: HTML for iframes and TVs, live by conditional polling (README, Widgets).

Each page is served whole on the first GET; its script then asks for `?fragment=1` every
few seconds with `If-None-Match`. The answer is the page's live region, or a bare 304 when
nothing it shows changed. Whether anything changed is decided from the version stamps
(versions.py) and the stamps the last rendering of this page saw, both read in one cache
round trip: a 304 reads no database at all. Measured against server-sent events in
bench/widgets.py (sync gunicorn workers would hold one worker per open page).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Tenant
from core import tenancy
from core.errors import ApplicationError
from gamify.wallet.selectors import wallet_balance
from gamify.wallet.services.redemptions import redemption_request
from gamify.widgets import access, selectors, versions
from gamify.widgets.access import RTL, Viewer, WidgetDenied
from kpis.periods import local_today

POLL_SECONDS = 2
STATE_SECONDS = 3600
# How long a rendering stays good while only *other* agents changed (see versions.py).
# The card compares its standings instead (ranks and contests, from the live boards).
TOLERANCE = {"store": 2.0, "leaderboard": 2.0, "wallboard": 2.0}
# The card's own part (points, badges, wallet, statement) is kept per agent version this long:
# what no stamp follows (a rule or level renamed in the admin) shows within it.
OWN_SECONDS = 30
QUIET_NS = 2_000_000_000
# The card's own part, also kept in this process (most polls of a card find it here, saving
# a cache round trip per rendering).
_own: dict[str, tuple[float, dict[str, Any]]] = {}
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\*\.[A-Za-z0-9.-]+$")
PERIODS = ("day", "week", "month")


def frame_ancestors(tenant: Tenant) -> list[str]:
    """'self' and the tenant's allowed origins (each checked: nothing else reaches the header)."""
    origins = tenant.widget_origins if isinstance(tenant.widget_origins, list) else []
    return ["'self'", *(o.rstrip("/") for o in origins if isinstance(o, str) and ORIGIN.match(o))]


def _secure[R: (HttpResponse, StreamingHttpResponse)](response: R, tenant: Tenant | None) -> R:
    ancestors = frame_ancestors(tenant) if tenant is not None else ["'self'"]
    response._csp_update = {"frame-ancestors": ancestors}  # type: ignore[attr-defined]
    # The token is in the URL: never hand it to another site, never cache it anywhere shared.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex"
    return response


def unauthorized(request: HttpRequest, denied: WidgetDenied) -> HttpResponse:
    """A small 401 page in the agent's language (when the token still says who it was)."""
    lang = access.language(request.GET.get("lang")) or denied.lang
    if lang is None:
        lang = access.request_language(request, None)
    with translation.override(lang):
        messages = {
            "expired": _("This link has expired. Open the widget again from your agent desktop."),
            "inactive": _("This link is no longer valid for this account."),
            "wrong-kind": _("This link opens another kind of page."),
        }
        message = messages.get(
            denied.reason,
            _("This link is not valid. Open the widget again from your agent desktop."),
        )
        html = render_to_string(
            "widgets/unauthorized.html",
            {"lang": lang, "rtl": lang in RTL, "message": message},
        )
    response = HttpResponse(html, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="widgets"'
    return _secure(response, None)


Builder = Callable[[HttpRequest, Viewer, "Poll"], dict[str, Any]]


class Poll:
    """What one request knows of the page's versions: the stamps read with its last rendering's
    state, and (the card) the standings other agents' events move, once computed."""

    def __init__(self, stamps: tuple[int, int, int] | None) -> None:
        self.stamps = stamps
        self.standings: dict[str, Any] | None = None


def _page(
    kind: str, build: Builder, *, team: bool = False
) -> Callable[[HttpRequest], HttpResponse]:
    @require_GET
    @xframe_options_exempt
    def view(request: HttpRequest) -> HttpResponse:
        try:
            viewer = access.resolve(request.GET.get("token"))
            if (viewer.team is not None) != team:
                raise WidgetDenied(
                    "wrong-kind", access.language(viewer.agent.locale) if viewer.agent else None
                )
        except WidgetDenied as denied:
            return unauthorized(request, denied)
        tenancy.enter(viewer.tenant)  # until the request ends (accounts.scoping)
        lang = access.request_language(request, viewer.agent)
        fragment = request.GET.get("fragment") == "1"
        params = "&".join(f"{k}={request.GET.get(k, '')}" for k in ("metric", "period", "scope"))
        state_key = f"widgets:r:{kind}:{viewer.tenant.pk}:{viewer.key}:{lang}:{fragment}:{params}"
        agent_id = viewer.agent.pk if viewer.agent else None
        poll = Poll(None)
        if versions.shared():
            found = cache.get_many([*versions.keys(viewer.tenant.pk, agent_id), state_key])
            poll.stamps = versions.stamps(found, viewer.tenant.pk, agent_id)
            last = found.get(state_key)
            asked = request.META.get("HTTP_IF_NONE_MATCH", "")
            if last and asked == last["etag"]:
                good = _still_good(kind, last, poll.stamps)
                if good is None:  # only others changed: did they move this card's standings?
                    poll.standings = _card_standings(viewer, poll)
                    good = poll.standings == last.get("standings")
                    if good and time.time_ns() - poll.stamps[1] > QUIET_NS:
                        # The tenant went quiet: remember these stamps, so the next polls are
                        # plain 304s. While it keeps changing, the write would be wasted.
                        cache.set(state_key, {**last, "stamps": poll.stamps}, STATE_SECONDS)
                if good:
                    return _secure(_not_modified(last["etag"]), viewer.tenant)
        html, etag = _render(request, viewer, kind, build, poll, lang, fragment)
        if poll.stamps is not None:
            state = {"etag": etag, "stamps": poll.stamps, "at": time.time()}
            if poll.standings is not None:
                state["standings"] = poll.standings
            cache.set(state_key, state, STATE_SECONDS)
        if request.META.get("HTTP_IF_NONE_MATCH") == etag:
            return _secure(_not_modified(etag), viewer.tenant)
        response = HttpResponse(html)
        response["ETag"] = etag
        response["Content-Language"] = lang
        return _secure(response, viewer.tenant)

    view.__name__ = f"{kind}_widget"
    return view


def _render(
    request: HttpRequest,
    viewer: Viewer,
    kind: str,
    build: Builder,
    poll: Poll,
    lang: str,
    fragment: bool,
) -> tuple[str, str]:
    """The page (or its live region) in the viewer's language, and its ETag."""
    with translation.override(lang):
        context = {
            "lang": lang,
            "rtl": lang in RTL,
            "tz": viewer.tenant.tz,
            "kind": kind,
            "token": request.GET.get("token"),
            "poll_seconds": POLL_SECONDS,
            **build(request, viewer, poll),
        }
        template = f"widgets/{kind}{'_live' if fragment else ''}.html"
        html = render_to_string(template, context, request=request)
    return html, '"' + hashlib.blake2b(html.encode(), digest_size=12).hexdigest() + '"'


def _still_good(kind: str, last: dict[str, Any], stamps: tuple[int, int, int]) -> bool | None:
    """Whether the last rendering still shows the truth: True, False, or None when only other
    agents changed and the card must compare its standings (ranks, contests) to know."""
    epoch, tenant, agent = stamps
    was_epoch, was_tenant, was_agent = last["stamps"]
    if epoch != was_epoch or agent != was_agent:
        return False
    if tenant == was_tenant:
        return True
    if kind == "agent":
        return None if "standings" in last else False
    return time.time() - last["at"] < TOLERANCE[kind]


def _card_standings(viewer: Viewer, poll: Poll) -> dict[str, Any]:
    assert viewer.agent is not None
    epoch = poll.stamps[0] if poll.stamps else 0
    return selectors.card_standings(tenant=viewer.tenant, agent=viewer.agent, epoch=epoch)


def _not_modified(etag: str) -> HttpResponse:
    response = HttpResponse(status=304)
    response["ETag"] = etag
    return response


# --- the four pages -------------------------------------------------------------------------
def _agent(request: HttpRequest, viewer: Viewer, poll: Poll) -> dict[str, Any]:
    """The card: its own part kept in the cache per version of the agent (and the tenant's
    epoch, and the day), its standings from the live boards on every rendering."""
    assert viewer.agent is not None
    tenant, agent = viewer.tenant, viewer.agent
    own = None
    if poll.stamps is not None:
        epoch, _tenant, mine = poll.stamps
        own_key = f"widgets:c:{tenant.pk}:{agent.pk}:{mine}:{epoch}:{local_today(tenant)}"
        now = time.monotonic()
        kept = _own.get(own_key)
        if kept is not None and now - kept[0] < OWN_SECONDS:
            own = kept[1]
        else:
            own = cache.get(own_key)
            if own is None:
                own = selectors.card_own(tenant=tenant, agent=agent)
                cache.set(own_key, own, OWN_SECONDS)
            if len(_own) > 5000:
                _own.clear()
            _own[own_key] = (now, own)
    else:
        own = selectors.card_own(tenant=tenant, agent=agent)
    if poll.standings is None:
        poll.standings = _card_standings(viewer, poll)
    return {"card": {**own, **poll.standings}}


def _leaderboard(request: HttpRequest, viewer: Viewer, poll: Poll) -> dict[str, Any]:
    assert viewer.agent is not None
    choices = selectors.metric_choices(viewer.tenant)
    metric = request.GET.get("metric") or "points"
    if metric not in dict(choices):
        metric = "points"
    asked = request.GET.get("period", "day")
    period = asked if asked in PERIODS else "day"
    scope = "tenant"
    if request.GET.get("scope") == "team" and viewer.agent.team is not None:
        scope = f"team:{viewer.agent.team.external_id}"
    board = selectors.agent_leaderboard(
        tenant=viewer.tenant, agent=viewer.agent, metric=metric, period=period, scope=scope
    )
    return {
        "board": board,
        "metrics": choices,
        "periods": PERIODS,
        "scope_team": scope != "tenant",
        "has_team": viewer.agent.team is not None,
    }


def _store(request: HttpRequest, viewer: Viewer, poll: Poll) -> dict[str, Any]:
    assert viewer.agent is not None
    return {"store": selectors.store(tenant=viewer.tenant, agent=viewer.agent)}


def _wallboard(request: HttpRequest, viewer: Viewer, poll: Poll) -> dict[str, Any]:
    assert viewer.team is not None
    return {"wall": selectors.wallboard(tenant=viewer.tenant, team=viewer.team)}


agent_page = _page("agent", _agent)
leaderboard_page = _page("leaderboard", _leaderboard)
store_page = _page("store", _store)
wallboard_page = _page("wallboard", _wallboard, team=True)


# --- server-sent events: the measured alternative ------------------------------------------
# The card's live region pushed as server-sent events (`/widgets/agent/events?token=…`), kept
# as the prototype bench/widgets.py measures against polling; widgets.js polls (README,
# Widgets: why). A stream re-checks the stamps every SSE_CHECK_SECONDS and ends after
# SSE_SECONDS, below gunicorn's 30 s worker timeout; EventSource reconnects after `retry`.
SSE_SECONDS = 25.0
SSE_CHECK_SECONDS = 1.0


@require_GET
@xframe_options_exempt
def agent_events(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    try:
        viewer = access.resolve(request.GET.get("token"))
        if viewer.agent is None:
            raise WidgetDenied("wrong-kind")
    except WidgetDenied as denied:
        return unauthorized(request, denied)
    lang = access.request_language(request, viewer.agent)
    tenant_id, agent_id = viewer.tenant.pk, viewer.agent.pk

    def stream() -> Iterator[str]:
        yield f"retry: {int(SSE_CHECK_SECONDS * 1000)}\n\n"
        sent: tuple[str, tuple[int, int, int] | None, Any] | None = None
        deadline = time.monotonic() + SSE_SECONDS
        while True:
            stamps = versions.read(tenant_id, agent_id) if versions.shared() else None
            poll, render = Poll(stamps), True
            if sent is not None and stamps is not None and sent[1] is not None:
                sent_etag, sent_stamps, sent_standings = sent
                if stamps == sent_stamps:
                    render = False
                elif sent_stamps is not None and stamps[::2] == sent_stamps[::2]:  # others only
                    poll.standings = _card_standings(viewer, poll)
                    if poll.standings == sent_standings:
                        sent, render = (sent_etag, stamps, sent_standings), False
            if render:
                html, etag = _render(request, viewer, "agent", _agent, poll, lang, True)
                if sent is None or etag != sent[0]:
                    lines = "".join(f"data: {line}\n" for line in html.splitlines())
                    yield f"id: {etag.strip(chr(34))}\nevent: change\n{lines}\n"
                sent = (etag, stamps, poll.standings)
            if time.monotonic() >= deadline:
                return
            time.sleep(SSE_CHECK_SECONDS)

    response = StreamingHttpResponse(stream(), content_type="text/event-stream; charset=utf-8")
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
    return _secure(response, viewer.tenant)


# --- redemption -----------------------------------------------------------------------------
@csrf_exempt  # no cookie is involved: the widget token in the Authorization header is the proof
@require_POST
@xframe_options_exempt
def redeem(request: HttpRequest) -> HttpResponse:
    """Request a redemption from the store page: `Authorization: Bearer <widget token>`,
    `Idempotency-Key` made in the page, body `{"reward": id}`.

    The key makes a double click (or a retried request) one redemption: the service keeps
    the first redemption under the key and returns it again.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, token = header.partition(" ")
    lang = access.language(request.GET.get("lang"))
    try:
        if scheme.lower() != "bearer":
            raise WidgetDenied("missing")
        viewer = access.resolve(token.strip())
        if viewer.agent is None:
            raise WidgetDenied("wrong-kind")
    except WidgetDenied as denied:
        return _problem(401, "unauthorized", denied.reason, lang or denied.lang or "en")
    tenancy.enter(viewer.tenant)  # until the request ends (accounts.scoping)
    agent = viewer.agent
    lang = lang or access.request_language(request, agent)
    key = request.META.get("HTTP_IDEMPOTENCY_KEY", "")
    if not 1 <= len(key) <= 100 or not key.isprintable():
        return _problem(400, "validation-error", "Idempotency-Key", lang)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    reward = body.get("reward") if isinstance(body, dict) else None
    if isinstance(reward, bool) or not isinstance(reward, int) or not 0 < reward < 2**63:
        return _problem(400, "validation-error", "reward", lang)
    try:
        redemption, created = redemption_request(
            tenant=viewer.tenant,
            agent=agent,
            reward_id=reward,
            actor=f"widget:{agent.pk}",
            request_key=f"widget:{agent.pk}:{key}",
        )
    except ApplicationError as exc:  # the wallet's domain errors: a status and a problem slug
        return _problem(exc.status_code, exc.slug, exc.slug, lang)
    if redemption.reward_id != reward:
        return _problem(409, "idempotency-key-reused", "Idempotency-Key", lang)
    response = JsonResponse(
        {
            "id": redemption.pk,
            "status": redemption.status,
            "balance": wallet_balance(tenant=viewer.tenant, agent_id=agent.pk),
            "replayed": not created,
        },
        status=201 if created else 200,
    )
    return _secure(response, viewer.tenant)


def _problem(status: int, slug: str, field: str, lang: str) -> HttpResponse:
    with translation.override(lang):
        messages = {
            "insufficient-funds": _("You do not have enough coins for this reward."),
            "out-of-stock": _("This reward is out of stock."),
            "limit-reached": _("You have reached this reward's monthly limit."),
            "reward-inactive": _("This reward is no longer offered."),
            "not-found": _("This reward is no longer offered."),
            "unauthorized": _(
                "This link is not valid. Open the widget again from your agent desktop."
            ),
        }
        detail = messages.get(slug, _("The request could not be completed. Try again."))
    body = {
        "type": f"https://gamify.example/problems/{slug}",
        "title": slug.replace("-", " "),
        "status": status,
        "detail": detail,
        "errors": {field: [detail]} if status == 400 else {},
    }
    response = JsonResponse(body, status=status, content_type="application/problem+json")
    return response


__all__ = [
    "agent_events",
    "agent_page",
    "leaderboard_page",
    "redeem",
    "store_page",
    "wallboard_page",
]
