"""The audit log covers coaching configuration (goals, alert rules, coaching settings) and webhook
configuration (create, update, enable, delete, secret rotation): one entry per change, with actor
and before → after, whether a manager made it in the admin or an API key over the API (the same
service code). Secrets are never recorded."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.audit.models import AuditEntry
from accounts.models import Membership
from gamify.coaching import services as coaching
from gamify.webhooks.models import Endpoint
from gamify.webhooks.services import endpoint_create, endpoint_disable
from tests.coaching.test_admin import goal_form, rule_form

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_receivers(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOKS_ALLOW_HTTP = True


@pytest.fixture
def manager(client, tenant):
    user = get_user_model().objects.create_user(
        f"coach-{uuid.uuid4().hex[:6]}", password="pw-123456789", is_staff=True
    )
    Membership.objects.create(user=user, tenant=tenant, role="manager")
    client.force_login(user)
    client.user = user
    return client


def entries(object_type):
    return list(AuditEntry.objects.filter(object_type=object_type).order_by("id"))


def by_admin(entry, manager):
    return (entry.actor, entry.actor_kind, entry.actor_name) == (
        f"user:{manager.user.pk}",
        "user",
        manager.user.username,
    )


def by_api_key(entry):
    return entry.actor.startswith("key:") and entry.actor_kind == "api_key"


def ok(response, status=(200, 201, 204, 302)):
    assert response.status_code in status, response.content.decode()[:2000]
    return response


# --- goals ----------------------------------------------------------------------------------
def test_goal_changes_from_the_admin_are_audited(manager, tenant):
    ok(manager.post("/admin/coaching/goal/add/", goal_form(tenant, target="150")))
    goal = coaching.Goal.objects.get()
    ok(manager.post(f"/admin/coaching/goal/{goal.pk}/change/", goal_form(tenant, target="120")))
    ok(manager.post(f"/admin/coaching/goal/{goal.pk}/delete/", {"post": "yes"}))
    created, updated, deleted = entries("goal")
    assert [e.action for e in (created, updated, deleted)] == ["create", "update", "delete"]
    assert all(by_admin(e, manager) for e in (created, updated, deleted))
    assert created.before is None
    assert created.after["target"] == "150"
    assert created.after["kpi"] == "aht"
    assert (updated.before, updated.after) == ({"target": "150"}, {"target": "120"})
    assert updated.object_id == str(goal.pk)
    assert deleted.before["target"] == "120"
    assert deleted.after is None


def test_goal_changes_over_the_api_are_audited(api, commit, tenant, agent):
    body = {"kpi": "aht", "target": 150, "period": "week", "scope": {"agent": "a1"}}
    goal = ok(commit(lambda: api.post("/api/v1/goals", body, format="json"))).json()
    path = f"/api/v1/goals/{goal['id']}"
    ok(commit(lambda: api.patch(path, {"target": 140, "scope": "tenant"}, format="json")))
    ok(commit(lambda: api.delete(path)))
    created, updated, deleted = entries("goal")
    assert all(by_api_key(e) and e.actor_name == "test" for e in (created, updated, deleted))
    assert created.after["agent"] == "a1"
    assert updated.before == {"agent": "a1", "target": "150"}
    assert updated.after == {"agent": None, "target": "140"}
    assert deleted.action == "delete"
    assert deleted.before["target"] == "140"


# --- alert rules ----------------------------------------------------------------------------
def test_alert_rule_changes_from_the_admin_are_audited(manager, tenant):
    ok(manager.post("/admin/coaching/alertrule/add/", rule_form(tenant)))
    rule = coaching.AlertRule.objects.get()
    ok(
        manager.post(
            f"/admin/coaching/alertrule/{rule.pk}/change/", rule_form(tenant, percent="25")
        )
    )
    ok(manager.post(f"/admin/coaching/alertrule/{rule.pk}/delete/", {"post": "yes"}))
    created, updated, deleted = entries("alert_rule")
    assert all(by_admin(e, manager) for e in (created, updated, deleted))
    assert created.after["percent"] == "10"
    assert created.object_repr == "Fast"
    assert (updated.before, updated.after) == ({"percent": "10"}, {"percent": "25"})
    assert deleted.action == "delete"
    assert deleted.before["percent"] == "25"


def test_alert_rule_changes_over_the_api_are_audited(api, commit, tenant):
    body = {"name": "Slow", "kind": "behind", "kpi": "aht", "periods": 2}
    rule = ok(commit(lambda: api.post("/api/v1/alert-rules", body, format="json"))).json()
    path = f"/api/v1/alert-rules/{rule['id']}"
    ok(commit(lambda: api.patch(path, {"periods": 3, "cooldown_minutes": 60}, format="json")))
    ok(commit(lambda: api.delete(path)))
    created, updated, deleted = entries("alert_rule")
    assert all(by_api_key(e) for e in (created, updated, deleted))
    assert updated.before == {"cooldown_minutes": 240, "periods": 2}
    assert updated.after == {"cooldown_minutes": 60, "periods": 3}
    assert deleted.action == "delete"


# --- coaching settings ----------------------------------------------------------------------
def test_coaching_settings_from_the_admin_and_the_api_are_audited(manager, api, commit, tenant):
    ok(commit(lambda: api.patch("/api/v1/coaching/settings", {"close_band_percent": 7},
                                format="json")))  # fmt: skip
    row = coaching.CoachingSettings.objects.get(tenant=tenant)
    form = {
        "tenant": tenant.pk,
        "scorecard_kpis": "aht, fcr",
        "close_band_percent": "7",
        "move_counts_as_leaving": "on",
    }
    ok(manager.post(f"/admin/coaching/coachingsettings/{row.pk}/change/", form))
    from_api, from_admin = entries("coaching_settings")
    assert by_api_key(from_api)
    assert from_api.after == {"close_band_percent": "7"}
    assert from_api.before["close_band_percent"] != "7"
    assert by_admin(from_admin, manager)
    assert from_admin.before["move_counts_as_leaving"] is False
    assert from_admin.after["move_counts_as_leaving"] is True
    assert from_admin.after["scorecard_kpis"] == ["aht", "fcr"]


# --- webhooks -------------------------------------------------------------------------------
def no_secret_in(entry_list, secrets):
    text = repr([(e.before, e.after, e.object_repr) for e in entry_list])
    return not any(secret in text for secret in secrets)


def test_webhook_changes_over_the_api_are_audited_without_secrets(api, commit, tenant):
    hook = ok(
        commit(lambda: api.post("/api/v1/webhooks",
                                {"url": "http://127.0.0.1:9/a", "events": ["badge.awarded"]},
                                format="json"))
    ).json()  # fmt: skip
    path = f"/api/v1/webhooks/{hook['id']}"
    ok(commit(lambda: api.patch(path, {"events": ["*"], "active": False}, format="json")))
    ok(commit(lambda: api.patch(path, {"active": True}, format="json")))  # enable again
    rotated = ok(commit(lambda: api.post(f"{path}/rotate-secret"))).json()
    endpoint = Endpoint.objects.get(pk=hook["id"])
    salts = [endpoint.secret_salt, endpoint.previous_secret_salt]
    ok(commit(lambda: api.delete(path)))
    created, updated, enabled, rotation, deleted = entries("webhook")
    assert all(by_api_key(e) for e in (created, updated, enabled, rotation, deleted))
    assert created.after == {
        "url": "http://127.0.0.1:9/a",
        "events": ["badge.awarded"],
        "active": True,
        "description": "",
    }
    assert updated.before == {"active": True, "events": ["badge.awarded"]}
    assert updated.after == {"active": False, "events": ["*"]}
    assert (enabled.before, enabled.after) == ({"active": False}, {"active": True})
    assert rotation.before["secret_prefix"] == hook["secret"][:12]
    assert rotation.after["secret_prefix"] == rotated["secret"][:12]
    assert rotation.after["previous_secret_expires_at"] is not None
    assert deleted.action == "delete"
    assert deleted.before["events"] == ["*"]
    everything = [created, updated, enabled, rotation, deleted]
    assert no_secret_in(everything, [hook["secret"], rotated["secret"], *salts])


def test_webhook_changes_from_the_admin_are_audited_without_secrets(manager, tenant):
    base = "/admin/webhooks/endpoint/"
    form = {"tenant": tenant.pk, "url": "http://127.0.0.1:9/b", "events": ["*"], "active": "on"}
    ok(manager.post(f"{base}add/", form))
    endpoint = Endpoint.objects.get()
    change = {"url": "http://127.0.0.1:9/c", "events": ["*"], "description": "ops"}  # inactive
    ok(manager.post(f"{base}{endpoint.pk}/change/", change))
    ok(manager.post(base, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}))
    ok(manager.post(f"{base}{endpoint.pk}/delete/", {"post": "yes"}))
    created, updated, rotation, deleted = entries("webhook")
    assert all(by_admin(e, manager) for e in (created, updated, rotation, deleted))
    assert created.after["url"] == "http://127.0.0.1:9/b"
    assert updated.before == {"active": True, "description": "", "url": "http://127.0.0.1:9/b"}
    assert updated.after == {"active": False, "description": "ops", "url": "http://127.0.0.1:9/c"}
    assert set(rotation.after) == {"secret_prefix", "previous_secret_expires_at"}
    assert deleted.action == "delete"
    assert not Endpoint.objects.exists()


def test_a_webhook_disabled_after_a_day_of_failures_is_recorded_as_the_system(tenant):
    endpoint = endpoint_create(tenant=tenant, url="http://127.0.0.1:9/d", events=["*"]).endpoint
    endpoint_disable(endpoint=endpoint, now=timezone.now(), last_error="HTTP 500")
    [_, disabled] = entries("webhook")
    assert (disabled.actor, disabled.actor_kind) == ("system", "system")
    assert disabled.before == {"active": True, "disabled_reason": ""}
    assert disabled.after["active"] is False
    assert "HTTP 500" in disabled.after["disabled_reason"]
