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
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
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

POLL_SECONDS = 2
STATE_SECONDS = 3600
# How long a rendering stays good while only *other* agents changed (see versions.py).
TOLERANCE = {
    "agent": versions.OTHERS_REFRESH_SECONDS,
    "store": versions.OTHERS_REFRESH_SECONDS,
    "leaderboard": 2.0,
    "wallboard": 2.0,
}
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\*\.[A-Za-z0-9.-]+$")
PERIODS = ("day", "week", "month")


def frame_ancestors(tenant: Tenant) -> list[str]:
    """'self' and the tenant's allowed origins (each checked: nothing else reaches the header)."""
    origins = tenant.widget_origins if isinstance(tenant.widget_origins, list) else []
    return ["'self'", *(o.rstrip("/") for o in origins if isinstance(o, str) and ORIGIN.match(o))]


def _secure(response: HttpResponse, tenant: Tenant | None) -> HttpResponse:
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


Builder = Callable[[HttpRequest, Viewer], dict[str, Any]]


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
        stamps = None
        if versions.shared():
            found = cache.get_many([*versions.keys(viewer.tenant.pk, agent_id), state_key])
            stamps = versions.stamps(found, viewer.tenant.pk, agent_id)
            last = found.get(state_key)
            asked = request.META.get("HTTP_IF_NONE_MATCH", "")
            if last and asked == last["etag"] and _still_good(kind, last, stamps):
                return _secure(_not_modified(last["etag"]), viewer.tenant)
        with translation.override(lang):
            context = {
                "lang": lang,
                "rtl": lang in RTL,
                "tz": viewer.tenant.tz,
                "kind": kind,
                "token": request.GET.get("token"),
                "poll_seconds": POLL_SECONDS,
                **build(request, viewer),
            }
            template = f"widgets/{kind}{'_live' if fragment else ''}.html"
            html = render_to_string(template, context, request=request)
        etag = '"' + hashlib.blake2b(html.encode(), digest_size=12).hexdigest() + '"'
        if stamps is not None:
            cache.set(state_key, {"etag": etag, "stamps": stamps, "at": time.time()}, STATE_SECONDS)
        if request.META.get("HTTP_IF_NONE_MATCH") == etag:
            return _secure(_not_modified(etag), viewer.tenant)
        response = HttpResponse(html)
        response["ETag"] = etag
        response["Content-Language"] = lang
        return _secure(response, viewer.tenant)

    view.__name__ = f"{kind}_widget"
    return view


def _still_good(kind: str, last: dict[str, Any], stamps: tuple[int, int, int]) -> bool:
    epoch, tenant, agent = stamps
    was_epoch, was_tenant, was_agent = last["stamps"]
    if epoch != was_epoch or agent != was_agent:
        return False
    return tenant == was_tenant or time.time() - last["at"] < TOLERANCE[kind]


def _not_modified(etag: str) -> HttpResponse:
    response = HttpResponse(status=304)
    response["ETag"] = etag
    return response


# --- the four pages -------------------------------------------------------------------------
def _agent(request: HttpRequest, viewer: Viewer) -> dict[str, Any]:
    assert viewer.agent is not None
    return {"card": selectors.agent_card(tenant=viewer.tenant, agent=viewer.agent)}


def _leaderboard(request: HttpRequest, viewer: Viewer) -> dict[str, Any]:
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


def _store(request: HttpRequest, viewer: Viewer) -> dict[str, Any]:
    assert viewer.agent is not None
    return {"store": selectors.store(tenant=viewer.tenant, agent=viewer.agent)}


def _wallboard(request: HttpRequest, viewer: Viewer) -> dict[str, Any]:
    assert viewer.team is not None
    return {"wall": selectors.wallboard(tenant=viewer.tenant, team=viewer.team)}


agent_page = _page("agent", _agent)
leaderboard_page = _page("leaderboard", _leaderboard)
store_page = _page("store", _store)
wallboard_page = _page("wallboard", _wallboard, team=True)


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


__all__ = ["agent_page", "leaderboard_page", "redeem", "store_page", "wallboard_page"]
