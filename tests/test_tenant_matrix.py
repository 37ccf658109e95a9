"""The cross-tenant matrix (issue 19, item 3): every route of the URL conf, called by an
outsider tenant on an object of the owner, never tells the owner's object apart from one that
does not exist, never shows a byte of the owner's data, and changes nothing of the owner's.

The routes come from the URL conf itself, so a new route is covered without editing this
file. Each URL keyword is filled from `OWNER_IDS` (API, by keyword name) or, for admin pages,
with the owner's object of that ModelAdmin's model (`ADMIN_OBJECTS` builds those of models
with no tenant). A keyword or model missing from those tables fails the test by name: add one
line that returns the owner's id (creating the object if the seed has none).

For each route, method and outsider credential (an API key with every scope, a widget token
of the outsider's own agent, an admin session of the outsider's owner):
* the answer for the owner's id equals the answer for an id that exists nowhere (status and,
  with the id replaced, body or redirect): the owner's object cannot be told from nothing;
* it is an error: 400, 403, 404 or 405 — never a success on the owner's object (admin pages
  of a missing object redirect to the index, 302, as Django does);
* no body contains a name of the owner's (all names carry `MARK`);
* afterwards every row of the owner's is as it was.
A positive control shows the names are found when the owner asks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api.auth import widget_token_mint
from accounts.models import ApiKey, Membership, Tenant
from accounts.services import agent_upsert, api_key_create, team_upsert, tenant_create

pytestmark = pytest.mark.django_db

MARK = "Zorblax"  # in every name of the owner's; in nothing else
OWNER_REF = "zorblax-1"  # the owner's external ids and codes: an agent, a team, a badge, a KPI
MISSING_REF = "nothing-here-1"
MISSING_INT = 987_654_321


@dataclass
class World:
    owner: Tenant
    outsider: Tenant
    api: APIClient  # the owner's, every scope
    ids: dict[str, Any] = field(default_factory=dict)

    def send(self, method: str, path: str, body: Any = None) -> Any:
        response = self.api.generic(
            method,
            f"/api/v1/{path}",
            data="" if body is None else json.dumps(body),
            content_type="application/json",
        )
        assert response.status_code < 300, (method, path, response.content[:500])
        return response.json() if response.content else None


# --- how to build each URL keyword's owner id --------------------------------------------------
# One line per keyword name. The value is the owner's id; `missing` below gives the never-
# existing twin of the same type.
OWNER_IDS: dict[str, Callable[[World], Any]] = {
    "external_id": lambda w: OWNER_REF,  # the owner's agent and team share it
    "code": lambda w: OWNER_REF.replace("-", "_"),  # the owner's badge and custom KPI
    "event_id": lambda w: "zorblax-event-1",
    "job_id": lambda w: w.ids["job_id"],
    "rule_id": lambda w: w.ids["rule_id"],
    "contest_id": lambda w: w.ids["contest_id"],
    "reward_id": lambda w: w.ids["reward_id"],
    "redemption_id": lambda w: w.ids["redemption_id"],
    "goal_id": lambda w: w.ids["goal_id"],
    "alert_rule_id": lambda w: w.ids["alert_rule_id"],
    "endpoint_id": lambda w: w.ids["endpoint_id"],
    "delivery_id": lambda w: w.ids["delivery_id"],
}

# Admin models with no tenant of their own (platform data): how to make one for the owner's
# side. Outsiders, who are not superusers, must not tell them apart from nothing either.
ADMIN_OBJECTS: dict[str, Callable[[World], Model]] = {
    "auth.user": lambda w: get_user_model().objects.get(username="zorblax-owner"),
    "auth.group": lambda w: Group.objects.create(name=f"{MARK} group"),
    "rest_framework_api_key.apikey": lambda w: _library_key(),
    "django_celery_beat.intervalschedule": lambda w: _beat(
        "IntervalSchedule", every=7, period="days"
    ),
    "django_celery_beat.crontabschedule": lambda w: _beat("CrontabSchedule", minute="7"),
    "django_celery_beat.solarschedule": lambda w: _beat(
        "SolarSchedule", event="sunrise", latitude=1, longitude=1
    ),
    "django_celery_beat.clockedschedule": lambda w: _beat(
        "ClockedSchedule", clocked_time=timezone.now()
    ),
    "django_celery_beat.periodictask": lambda w: _beat(
        "PeriodicTask",
        name=f"{MARK} task",
        task="x",
        interval=_beat("IntervalSchedule", every=9, period="days"),
    ),
    "axes.accessattempt": lambda w: _axes("AccessAttempt", failures_since_start=1),
    "axes.accesslog": lambda w: _axes("AccessLog"),
    "axes.accessfailurelog": lambda w: _axes("AccessFailureLog", locked_out=False),
}

# Admin site views (not a model's): their keywords.
# Admin views that are not a ModelAdmin's own (the site's, and extra ones such as a user's
# password page): their keywords, as (the owner's value, a value that exists nowhere).
ADMIN_SITE_IDS: dict[str, Callable[[World], tuple[Any, Any]]] = {
    "app_label": lambda w: ("accounts", "accounts"),  # (one app's index: no object)
    "url": lambda w: (f"accounts/agent/{w.ids['agent_pk']}/", f"accounts/agent/{MISSING_INT}/"),
    "content_type_id": lambda w: (w.ids["agent_content_type"], w.ids["agent_content_type"]),
    "object_id": lambda w: (w.ids["agent_pk"], MISSING_INT),
    "id": lambda w: (get_user_model().objects.get(username="zorblax-owner").pk, MISSING_INT),
    "agent_id": lambda w: (w.ids["agent_pk"], MISSING_INT),  # the coaching scorecard pages
    "team_id": lambda w: (w.ids["team_pk"], MISSING_INT),
}


def _library_key() -> Model:
    from rest_framework_api_key.models import APIKey

    key, _ = APIKey.objects.create_key(name=f"{MARK} library key")
    return key


def _beat(model: str, **values: Any) -> Model:
    created: Model = apps.get_model("django_celery_beat", model).objects.create(**values)
    return created


def _axes(model: str, **values: Any) -> Model:
    defaults = {
        "username": f"{MARK}-user",
        "ip_address": "192.0.2.1",
        "user_agent": MARK,
        "path_info": "/admin/login/",
    }
    if model != "AccessFailureLog":
        defaults["http_accept"] = "text/html"
    if model == "AccessAttempt":
        defaults["get_data"] = defaults["post_data"] = ""
    created: Model = apps.get_model("axes", model).objects.create(**defaults, **values)
    return created


def missing(value: Any) -> Any:
    return MISSING_INT if isinstance(value, int) else MISSING_REF.replace("-", "_")


# --- the owner's world ------------------------------------------------------------------------


def seed_owner(world: World) -> None:
    """One object of each kind, every name carrying MARK."""
    w = world
    user = get_user_model().objects.create_user(
        "zorblax-owner", password="pw-123456789", is_staff=True, first_name=MARK
    )
    Membership.objects.create(user=user, tenant=w.owner, role=Membership.Role.OWNER)
    w.send("PUT", f"teams/{OWNER_REF}", {"name": f"{MARK} team"})
    w.send("PUT", f"agents/{OWNER_REF}", {"display_name": f"{MARK} agent", "team": OWNER_REF})
    code = OWNER_IDS["code"](w)
    w.send(
        "POST",
        "kpis",
        {"code": code, "name": f"{MARK} kpi", "unit": "count", "direction": "higher_is_better",
         "aggregation": "sum"},
    )  # fmt: skip
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    event = {
        "event_id": OWNER_IDS["event_id"](w),
        "type": "interaction",
        "agent": OWNER_REF,
        "answered": True,
        "occurred_at": (hour - timedelta(hours=1)).isoformat(),
        "talk_seconds": 60,
    }
    w.send("POST", "events", {"events": [event]})
    job = w.api.post(
        "/api/v1/events/import",
        data=b'{"event_id": "zorblax-e2"}\n',
        content_type="application/x-ndjson",
    )
    assert job.status_code < 300, job.content
    w.ids["job_id"] = job.json()["id"]
    rule = w.send(
        "POST",
        "point-rules",
        {"name": f"{MARK} rule", "kpi": "contacts_handled", "kind": "per_unit", "points": 50},
    )
    w.ids["rule_id"] = rule["id"]
    w.send("PUT", "levels", [{"number": 1, "name": f"{MARK} rookie", "min_points": 0}])
    w.send(
        "POST",
        "badges",
        {"code": code, "name": f"{MARK} badge", "criteria": {"kind": "points", "points": 10}},
    )
    contest = w.send(
        "POST",
        "contests",
        {
            "name": f"{MARK} contest",
            "metric": "contacts_handled",
            "starts_at": (hour + timedelta(days=30)).isoformat(),
            "ends_at": (hour + timedelta(days=30, hours=1)).isoformat(),
        },
    )
    w.ids["contest_id"] = contest["id"]
    reward = w.send("POST", "rewards", {"name": f"{MARK} mug", "cost": 1})
    w.ids["reward_id"] = reward["id"]
    w.send("POST", f"agents/{OWNER_REF}/wallet/grants", {"amount": 1000, "reason": f"{MARK}"})
    w.send("POST", f"agents/{OWNER_REF}/points/adjustments", {"points": 5, "reason": MARK})
    redemption = w.send("POST", "redemptions", {"agent": OWNER_REF, "reward": reward["id"]})
    w.ids["redemption_id"] = redemption["id"]
    goal = w.send(
        "POST",
        "goals",
        {"name": f"{MARK} goal", "kpi": "aht", "op": "<=", "target": 300, "period": "week",
         "scope": {"agent": OWNER_REF}},
    )  # fmt: skip
    w.ids["goal_id"] = goal["id"]
    alert_rule = w.send(
        "POST",
        "alert-rules",
        {"name": f"{MARK} alert", "kind": "exceeds", "kpi": "aht", "percent": 20, "periods": 2,
         "period": "day", "cooldown_minutes": 240},
    )  # fmt: skip
    w.ids["alert_rule_id"] = alert_rule["id"]
    w.send("PATCH", "coaching/settings", {"close_band_percent": 5})
    endpoint = w.send(
        "POST",
        "webhooks",
        {"url": f"https://{OWNER_REF}.example.com/hook", "events": ["badge.awarded"]},
    )
    w.ids["endpoint_id"] = endpoint["id"]
    # what only the admin or the periodic jobs make
    from gamify.game.models import GameSettings, PeriodClose
    from gamify.wallet.models import ConversionRule

    GameSettings.objects.get_or_create(tenant=w.owner)
    ConversionRule.objects.get_or_create(tenant=w.owner, defaults={"points_per_coin": 10})
    from gamify.webhooks.models import Delivery
    from gamify.widgets.models import WidgetSettings

    WidgetSettings.objects.get_or_create(tenant=w.owner)

    w.ids["delivery_id"] = Delivery.objects.create(
        tenant=w.owner, endpoint_id=endpoint["id"], event_type="ping",
        payload={"note": MARK}, status=Delivery.Status.FAILED, next_attempt_at=timezone.now(),
    ).pk  # fmt: skip
    PeriodClose.objects.create(
        tenant=w.owner, period="day", start=datetime(2026, 1, 1, tzinfo=UTC).date(),
        finalized_at=timezone.now(),
    )  # fmt: skip
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import Agent

    agent = Agent.objects.get(tenant=w.owner, external_id=OWNER_REF)
    w.ids["agent_pk"] = agent.pk
    w.ids["team_pk"] = agent.team_id
    w.ids["agent_content_type"] = ContentType.objects.get_for_model(Agent).pk


@pytest.fixture
def world(django_capture_on_commit_callbacks: Any) -> World:
    owner = tenant_create(name=f"{MARK} Support", timezone_name="Asia/Shanghai", slug="zorblax")
    outsider = tenant_create(name="Outsider Inc", timezone_name="Europe/Berlin", slug="outsider")
    _, raw = api_key_create(tenant=owner, scopes=["ingest", "read", "manage"], name=MARK)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    w = World(owner=owner, outsider=outsider, api=client)
    with django_capture_on_commit_callbacks(execute=True):
        seed_owner(w)
    return w


def outsiders(world: World) -> dict[str, Client]:
    """The outsider's three credentials."""
    _, raw = api_key_create(tenant=world.outsider, scopes=["ingest", "read", "manage"], name="o")
    key = APIClient()
    key.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    team_upsert(tenant=world.outsider, external_id="o-team", name="Theirs", parent_external_id=None)
    theirs, _ = agent_upsert(
        tenant=world.outsider, external_id="o-agent", display_name="Their agent",
        team_external_id="o-team",
    )  # fmt: skip
    token, _ = widget_token_mint(agent=theirs, ttl_seconds=3600)
    widget = APIClient()
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    manager = get_user_model().objects.create_user(
        "o-owner", password="pw-123456789", is_staff=True
    )
    Membership.objects.create(user=manager, tenant=world.outsider, role=Membership.Role.OWNER)
    session = Client()
    session.force_login(manager)
    return {"api key": key, "widget token": widget, "admin session": session}


# --- the routes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    template: str  # "api/v1/agents/<str:external_id>", as the URL conf writes it
    pattern: URLPattern
    keywords: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.pattern.name or self.template

    @property
    def model_admin(self) -> admin.ModelAdmin[Any] | None:
        return getattr(self.pattern.callback, "model_admin", None)

    @property
    def is_api(self) -> bool:
        return self.template.startswith("api/v1/")

    @property
    def is_admin(self) -> bool:
        return self.template.startswith("admin/")

    def path(self, values: dict[str, Any]) -> str:
        text = self.template.removesuffix("$").removeprefix("^")
        for name, value in values.items():
            text = re.sub(rf"<(?:\w+:)?{name}>|\(\?P<{name}>[^)]*\)", str(value), text)
        text = re.sub(r"\^|\$", "", text)
        return "/" + text


def routes() -> Iterator[Route]:
    def walk(patterns: list[Any], prefix: str) -> Iterator[Route]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            else:
                pattern = entry.pattern
                names = tuple(getattr(pattern, "converters", {}) or pattern.regex.groupindex)
                yield Route(prefix + str(pattern), entry, names)

    yield from walk(get_resolver().url_patterns, "")


def api_values(world: World, route: Route) -> dict[str, Any]:
    unknown = [k for k in route.keywords if k not in OWNER_IDS]
    assert not unknown, f"{route.name}: no id for {unknown}; add a line to OWNER_IDS"
    return {k: OWNER_IDS[k](world) for k in route.keywords}


def api_methods(route: Route) -> list[str]:
    view = getattr(route.pattern.callback, "view_class", None) or getattr(
        route.pattern.callback, "cls", None
    )
    assert view is not None, f"{route.name}: not a class-based API view; teach the matrix"
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]


ADMIN_METHODS = {  # the admin's views by their URL name's suffix
    "change": ("get", "post"),
    "delete": ("get", "post"),
    "history": ("get",),
    "password_change": ("get", "post"),
}


def ask(client: Client, method: str, path: str) -> Any:
    if path.startswith("/api/") and method in ("post", "put", "patch"):
        return client.generic(method.upper(), path, data="{}", content_type="application/json")
    if method == "post":
        return client.post(path, data={})
    return getattr(client, method)(path)


def shown(response: Any) -> str:
    body = getattr(response, "content", b"").decode(errors="replace")
    return body + " " + response.get("Location", "")


def echo_replaced(text: str, value: str) -> str:
    """`text` with `value` (a path, or an id standing alone) replaced by <id>."""
    if "/" in value:
        return text.replace(value, "<id>")
    return re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", "<id>", text)


def owner_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row that belongs to the owner, for the before/after comparison."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for model in apps.get_models():
        names = {f.name for f in model._meta.concrete_fields}
        found: Any
        if "tenant" in names:
            found = model._base_manager.filter(tenant__slug="zorblax").order_by("pk").values()
        elif model is Tenant:
            found = Tenant.objects.filter(slug="zorblax").values()
        else:
            continue
        rows[model._meta.label] = [
            {k: v for k, v in row.items() if k not in ("last_used_at", "updated_at")}
            for row in found
        ]
    return rows


def admin_object(world: World, route: Route) -> Model:
    model_admin = route.model_admin
    assert model_admin is not None
    label = model_admin.model._meta.label_lower
    made = world.ids.setdefault("admin objects", {})
    if label not in made:
        made[label] = _admin_object(world, route, label)
    obj: Model = made[label]
    return obj


def _admin_object(world: World, route: Route, label: str) -> Model:
    assert route.model_admin is not None
    model = route.model_admin.model
    if label in ADMIN_OBJECTS:
        return ADMIN_OBJECTS[label](world)
    if model is Tenant:
        return world.owner
    if model is ApiKey or any(f.name == "tenant" for f in model._meta.concrete_fields):
        found = model._base_manager.filter(tenant=world.owner).order_by("pk").first()
        assert found is not None, f"{label}: the seed made no owner object; add one to seed_owner"
        return found
    raise AssertionError(
        f"{label} (admin {route.name}): no tenant and no builder; add it to ADMIN_OBJECTS"
    )


def admin_missing_path(route: Route, keyword: str) -> str:
    return route.path({keyword: MISSING_INT})


def test_no_route_lets_an_outsider_tell_or_touch_the_owners_objects(world: World) -> None:
    clients = outsiders(world)
    before = owner_rows()
    findings: list[str] = []
    covered: list[str] = []

    def check(
        label: str, owner_answer: Any, missing_answer: Any, pairs: list[tuple[str, str]]
    ) -> None:
        body = shown(owner_answer)
        other = shown(missing_answer)
        for value, missing_value in pairs:  # the id each one asked for, echoed, is no leak
            body, other = echo_replaced(body, value), echo_replaced(other, missing_value)
        if MARK in body:
            findings.append(f"{label}: the owner's data in the answer: {body[:300]!r}")
        if owner_answer.status_code != missing_answer.status_code:
            findings.append(
                f"{label}: {owner_answer.status_code} for the owner's object, "
                f"{missing_answer.status_code} for none"
            )
        elif body != other:
            findings.append(f"{label}: the answer differs from one about no object: {body[:300]!r}")

    for route in routes():
        if route.is_api and route.keywords:
            values = api_values(world, route)
            absent = {k: missing(v) for k, v in values.items()}
            for method in api_methods(route):
                for who, client in clients.items():
                    label = f"{who} {method.upper()} {route.path(values)}"
                    owner_answer = ask(client, method, route.path(values))
                    missing_answer = ask(client, method, route.path(absent))
                    if owner_answer.status_code not in (400, 403, 404, 405):
                        findings.append(f"{label}: {owner_answer.status_code}")
                    pairs = [(route.path(values), route.path(absent))] + [
                        (str(values[k]), str(absent[k])) for k in route.keywords
                    ]
                    check(label, owner_answer, missing_answer, pairs)
                    covered.append(label)
        elif route.is_api or not route.is_admin:
            # lists and the rest: whatever they answer, nothing of the owner's
            for who, client in clients.items():
                answer = client.get(route.path({}))
                if MARK in shown(answer):
                    findings.append(f"{who} GET {route.path({})}: the owner's data in the answer")
                covered.append(f"{who} GET {route.path({})}")
        elif route.model_admin is not None and route.keywords:
            obj = admin_object(world, route)
            suffix = (route.pattern.name or "").rsplit("_", 1)[-1]
            if route.pattern.name is None:
                suffix = "change"  # the old object URL, redirected to the change page
            if (route.pattern.name or "").endswith("password_change"):
                suffix = "password_change"
            methods = ADMIN_METHODS.get(suffix)
            assert methods is not None, f"{route.name}: unknown admin view; add it to ADMIN_METHODS"
            (keyword,) = route.keywords
            session = clients["admin session"]
            for method in methods:
                path = route.path({keyword: obj.pk})
                label = f"admin session {method.upper()} {path}"
                owner_answer = ask(session, method, path)
                missing_answer = ask(session, method, admin_missing_path(route, keyword))
                if owner_answer.status_code not in (302, 403, 404):
                    findings.append(f"{label}: {owner_answer.status_code}")
                missing_path = admin_missing_path(route, keyword)
                check(label, owner_answer, missing_answer, [(path, missing_path)])
                covered.append(label)
        elif not route.keywords or route.pattern.name == "app_list":
            # the admin's index, an app's index, changelists, add pages, login ...
            session = clients["admin session"]
            path = route.path({k: ADMIN_SITE_IDS[k](world)[0] for k in route.keywords})
            if MARK in shown(session.get(path)):
                findings.append(f"admin session GET {path}: the owner's data in the answer")
            covered.append(f"admin session GET {path}")
        else:
            session = clients["admin session"]
            unknown = [k for k in route.keywords if k not in ADMIN_SITE_IDS]
            assert not unknown, f"{route.name}: no id for {unknown}; add a line to ADMIN_SITE_IDS"
            both = {k: ADMIN_SITE_IDS[k](world) for k in route.keywords}
            path = route.path({k: v[0] for k, v in both.items()})
            path_missing = route.path({k: v[1] for k, v in both.items()})
            for method in ("get", "post"):
                label = f"admin session {method.upper()} {path}"
                owner_answer = ask(session, method, path)
                missing_answer = ask(session, method, path_missing)
                if owner_answer.status_code >= 200 and owner_answer.status_code < 300:
                    findings.append(f"{label}: {owner_answer.status_code}")
                check(label, owner_answer, missing_answer, [(path, path_missing)])
                covered.append(label)

    assert not findings, "\n".join(findings)
    after = owner_rows()
    assert after == before, "an outsider's request changed the owner's rows"
    assert len(covered) > 300, len(covered)
    print(f"{len(covered)} calls")

    # the positive control: the owner's own key and session see the names the matrix looks for
    assert MARK in shown(world.api.get(f"/api/v1/agents/{OWNER_REF}"))
    assert MARK in shown(world.api.get(f"/api/v1/contests/{world.ids['contest_id']}"))
    own = Client()
    own.force_login(get_user_model().objects.get(username="zorblax-owner"))
    assert MARK in shown(own.get(f"/admin/accounts/agent/{world.ids['agent_pk']}/change/"))
    assert MARK in shown(own.get("/admin/wallet/reward/"))


def test_a_route_the_matrix_cannot_call_fails_it_by_name(world: World) -> None:
    from django.urls import path

    def view(request: Any) -> Any: ...

    gizmo = Route("api/v1/gizmos/<int:gizmo_id>", path("<int:gizmo_id>", view), ("gizmo_id",))
    with pytest.raises(AssertionError, match=r"no id for \['gizmo_id'\]; add a line to OWNER_IDS"):
        api_values(world, gizmo)
    assert [r for r in routes() if r.is_api and r.keywords]  # and the real ones are found
