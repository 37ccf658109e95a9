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
from pathlib import Path
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
from gamify.leaderboards import live
from gamify.wallet.selectors import wallet_balance
from gamify.wallet.services.redemptions import redemption_request
from gamify.widgets import access, formatting, selectors, versions
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
_own: dict[str, tuple[dict[str, Any], str, float, str]] = {}
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
        token = request.GET.get("token")
        try:
            viewer = access.resolve(token, shared=versions.shared())
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
        if kind == "agent" and versions.shared():
            return _card(request, viewer, lang, fragment, state_key)
        poll = Poll(None)
        if versions.shared():
            found = cache.get_many([*versions.keys(viewer.tenant.pk, agent_id), state_key])
            poll.stamps = versions.stamps(found, viewer.tenant.pk, agent_id)
            try:
                access.recheck(viewer, token, poll.stamps[0])
            except WidgetDenied as denied:
                return unauthorized(request, denied)
            last = found.get(state_key)
            asked = request.META.get("HTTP_IF_NONE_MATCH", "")
            if last and asked == last["etag"] and _still_good(kind, last, poll.stamps):
                return _secure(_not_modified(last["etag"]), viewer.tenant)
        html = _render(request, viewer, kind, build, poll, lang, fragment)
        etag = _html_etag(html)
        if poll.stamps is not None:
            state = {"etag": etag, "stamps": poll.stamps, "at": time.time()}
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
) -> str:
    """The page (or its live region) in the viewer's language."""
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
        return render_to_string(template, context, request=request)


def _html_etag(html: str) -> str:
    """The ETag of a page whose versions say nothing finer: a digest of what it shows."""
    return '"' + hashlib.blake2b(html.encode(), digest_size=12).hexdigest() + '"'


def _still_good(kind: str, last: dict[str, Any], stamps: tuple[int, int, int]) -> bool:
    """Whether the last rendering of a leaderboard, store or wallboard still shows the truth
    (the card decides by its own ETag, `_card`)."""
    epoch, tenant, agent = stamps
    was_epoch, was_tenant, was_agent = last["stamps"]
    if epoch != was_epoch or agent != was_agent:
        return False
    if tenant == was_tenant:
        return True
    return time.time() - last["at"] < TOLERANCE[kind]


def _card_standings(viewer: Viewer, poll: Poll) -> dict[str, Any]:
    assert viewer.agent is not None
    epoch = poll.stamps[0] if poll.stamps else 0
    return selectors.card_standings(tenant=viewer.tenant, agent=viewer.agent, epoch=epoch)


def _not_modified(etag: str) -> HttpResponse:
    response = HttpResponse(status=304)
    response["ETag"] = etag
    return response


# --- the agent card -------------------------------------------------------------------------
# A card's ETag is "<own>.<standings>": <own> digests what only the agent's own changes move
# (their part of the card, kept per agent version) with the page's language, the templates
# and the card's contests; <standings> digests its ranks today and this week and its contest
# ranks, which other agents' events move. A poll whose ETag still has this <own> while only
# <standings> moved gets just those texts as JSON (`?patch=1`, what widgets.js asks), which
# the page writes into its elements: no rendering, no database, the same text a rendering
# would show (both come from formatting.rank and formatting.contest_standing).
_TEMPLATES = Path(__file__).resolve().parent / "templates" / "widgets"
_version: list[str] = []


def _card_version() -> str:
    """The card's templates, digested once per process: a deploy that changes them changes
    every card's ETag, so no page keeps patching markup of another version."""
    if not _version:
        digest = hashlib.blake2b(digest_size=6)
        for name in ("base.html", "agent.html", "agent_live.html"):
            digest.update((_TEMPLATES / name).read_bytes())
        _version.append(digest.hexdigest())
    return _version[0]


def _card_own(
    tenant: Tenant, agent: Any, stamps: tuple[int, int, int]
) -> tuple[dict[str, Any], str, float]:
    """(the card's own part, its digest, when it was read), kept for OWN_SECONDS in this
    process and the cache under one key per agent, with the version it was read at (the
    agent's stamp, the tenant's epoch, the day): a newer version replaces it in place, so
    what is kept is bounded by the agents shown, not by their versions over the TTL."""
    epoch, _tenant, mine = stamps
    own_key = f"widgets:c3:{tenant.pk}:{agent.pk}"
    version = f"{mine}:{epoch}:{local_today(tenant)}"
    now = time.time()

    def fresh(kept: Any) -> bool:
        return kept is not None and kept[3] == version and now - kept[2] < OWN_SECONDS

    kept: Any = _own.get(own_key)
    if not fresh(kept):
        kept = cache.get(own_key)
        if not fresh(kept):
            own = selectors.card_own(tenant=tenant, agent=agent, epoch=epoch)
            digest = hashlib.blake2b(repr(own).encode(), digest_size=12).hexdigest()
            kept = (own, digest, now, version)
            cache.set(own_key, kept, OWN_SECONDS)
        if len(_own) > 5000 and own_key not in _own:
            _own.clear()
        _own[own_key] = kept
    return kept[0], kept[1], kept[2]


def _card_etag(
    tenant: Tenant, own: str, lang: str, fragment: bool, standings: dict[str, Any]
) -> str:
    contests = standings["contests"]
    layout = [(c["id"], c["name"], c["ends_at"]) for c in contests]
    mine = f"{_card_version()}|{lang}|{fragment}|{tenant.tz}|{own}|{layout!r}"
    values = (standings["ranks"], [c["rank"] for c in contests])
    o = hashlib.blake2b(mine.encode(), digest_size=9).hexdigest()
    s = hashlib.blake2b(repr(values).encode(), digest_size=6).hexdigest()
    return f'"{o}.{s}"'


def _same_own(asked: str, etag: str) -> bool:
    """Whether the page's ETag shows this card's own part (only its standings differ)."""
    return len(asked) == len(etag) and asked.partition(".")[0] == etag.partition(".")[0]


def standing_texts(standings: dict[str, Any], lang: str) -> dict[str, str]:
    """What a standings answer writes into the card (`data-standing` elements): only the
    agent's own ranks, no other agent's name; in the page's language and digits."""
    ranks = standings["ranks"]
    with translation.override(lang):
        texts = {
            "rank_day": formatting.rank(ranks.get("points_day"), lang),
            "rank_week": formatting.rank(ranks.get("points_week"), lang),
        }
        for contest in standings["contests"]:
            texts[f"contest_{contest['id']}"] = formatting.contest_standing(contest["rank"], lang)
    return texts


def _card(
    request: HttpRequest, viewer: Viewer, lang: str, fragment: bool, state_key: str
) -> HttpResponse:
    """The card with the shared stamps: a 304 when its ETag still holds, its standings alone
    when only they moved (`?patch=1`), else the card (or its live region) rendered."""
    tenant, agent = viewer.tenant, viewer.agent
    assert agent is not None
    names = [*versions.keys(tenant.pk, agent.pk), state_key]
    # The stamps, the page's state and the card's ranks on its boards: one round trip.
    boards = selectors.card_boards(tenant=tenant, agent=agent)
    both = versions.read_with_script(names, live.RANKS_SCRIPT, live.ranks_keys(boards), [agent.pk])
    read = None
    if both is not None:
        found, answer = both
        read = (boards, live.ranks_answer(answer))
    else:
        found = cache.get_many(names)
    stamps = versions.stamps(found, tenant.pk, agent.pk)
    try:
        access.recheck(viewer, request.GET.get("token"), stamps[0])
    except WidgetDenied as denied:
        return unauthorized(request, denied)
    last = found.get(state_key)
    asked = request.META.get("HTTP_IF_NONE_MATCH", "")
    if last and asked == last["etag"] and stamps == last["stamps"]:
        return _secure(_not_modified(asked), tenant)  # nothing moved since the last answer
    standings = selectors.card_standings(tenant=tenant, agent=agent, epoch=stamps[0], read=read)
    patch = fragment and request.GET.get("patch") == "1"
    now = time.time()
    quiet = time.time_ns() - stamps[1] > QUIET_NS
    if last is not None and "own" in last and last["stamps"][::2] == stamps[::2]:  # others
        etag = _card_etag(tenant, last["own"], lang, fragment, standings)
        if asked == etag or (patch and _same_own(asked, etag) and now - last["at"] < OWN_SECONDS):
            if quiet:
                # The tenant went quiet: remember these stamps, so the next polls are plain
                # 304s. While it keeps changing, the write would be wasted.
                cache.set(state_key, {**last, "etag": etag, "stamps": stamps}, STATE_SECONDS)
            if asked == etag:
                return _secure(_not_modified(etag), tenant)
            return _standings_answer(standings, lang, etag, tenant)
    own, digest, at = _card_own(tenant, agent, stamps)
    etag = _card_etag(tenant, digest, lang, fragment, standings)
    state = {"etag": etag, "own": digest, "at": at, "stamps": stamps}
    cache.set(state_key, state, STATE_SECONDS)
    if asked == etag:
        return _secure(_not_modified(etag), tenant)
    if patch and _same_own(asked, etag):
        return _standings_answer(standings, lang, etag, tenant)
    poll = Poll(stamps)
    poll.standings = standings
    html = _render(
        request, viewer, "agent", lambda *_: {"card": {**own, **standings}}, poll, lang, fragment
    )
    response = HttpResponse(html)
    response["ETag"] = etag
    response["Content-Language"] = lang
    return _secure(response, tenant)


def _standings_answer(
    standings: dict[str, Any], lang: str, etag: str, tenant: Tenant
) -> HttpResponse:
    body = {"standings": standing_texts(standings, lang)}
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["ETag"] = etag
    response["Content-Language"] = lang
    return _secure(response, tenant)


# --- the four pages -------------------------------------------------------------------------
def _agent(request: HttpRequest, viewer: Viewer, poll: Poll) -> dict[str, Any]:
    """The card's rendering for the server-sent events and the embedded default (no shared
    stamps): its own part as `_card_own` keeps it, its standings from the live boards."""
    assert viewer.agent is not None
    tenant, agent = viewer.tenant, viewer.agent
    if poll.stamps is not None:
        own = _card_own(tenant, agent, poll.stamps)[0]
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
                html = _render(request, viewer, "agent", _agent, poll, lang, True)
                if stamps is not None and poll.standings is not None:  # the polls' ETag
                    digest = _card_own(viewer.tenant, viewer.agent, stamps)[1]
                    etag = _card_etag(viewer.tenant, digest, lang, True, poll.standings)
                else:
                    etag = _html_etag(html)
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
