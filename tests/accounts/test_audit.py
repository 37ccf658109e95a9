"""The audit log: every manager and API change to the game is recorded by the services, with
who did it and what changed (before → after); it is append-only and scoped by tenant."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction

from accounts.audit.context import Actor, acting_as, current_actor, set_process_default_from_argv
from accounts.audit.models import AuditAppendOnly, AuditEntry
from accounts.audit.services import audit_record
from accounts.models import Membership
from gamify.game import services as game
from gamify.game.models import Level
from gamify.wallet import services as wallet
from tests.game.test_admin import form as rule_form
from tests.helpers import problem

pytestmark = pytest.mark.django_db

LOG = "/admin/audit/auditentry/"


@pytest.fixture
def staff():
    def make(tenant, role="manager"):
        user = get_user_model().objects.create_user(
            f"{role}-{tenant.slug}-{uuid.uuid4().hex[:6]}", password="pw-123456789", is_staff=True
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


@pytest.fixture
def rule(tenant):
    return game.point_rule_create(
        tenant=tenant,
        values={"name": "Per contact", "kpi": "contacts_handled", "kind": "per_unit", "points": 10},
    )


def updates(object_type):
    return list(AuditEntry.objects.filter(action="update", object_type=object_type).order_by("id"))


def test_a_rule_edit_from_the_admin_is_recorded_with_before_and_after(client, staff, tenant, rule):
    manager = staff(tenant)
    client.force_login(manager)
    response = client.post(f"/admin/game/pointrule/{rule.pk}/change/", rule_form(rule, points=25))
    assert response.status_code == 302, response.content.decode()[:2000]
    [entry] = updates("point_rule")
    assert (entry.actor, entry.actor_name, entry.actor_kind) == (
        f"user:{manager.pk}",
        manager.username,
        "user",
    )
    assert (entry.object_id, entry.object_repr) == (str(rule.pk), "Per contact")
    assert entry.before == {"points": 10}
    assert entry.after == {"points": 25}
    assert entry.tenant_id == tenant.pk


def test_a_rule_edit_over_the_api_is_recorded_with_before_and_after(api, commit, tenant, rule):
    response = commit(
        lambda: api.patch(
            f"/api/v1/point-rules/{rule.pk}",
            {"points": 7, "cap": 70, "name": "Per handled contact"},
            format="json",
        )
    )
    assert response.status_code == 200
    [entry] = updates("point_rule")
    assert entry.actor.startswith("key:")
    assert entry.actor_kind == "api_key"
    assert entry.actor_name == "test"  # the API key's name
    assert entry.before == {"cap": None, "name": "Per contact", "points": 10}
    assert entry.after == {"cap": 70, "name": "Per handled contact", "points": 7}


def test_a_refused_edit_and_an_edit_that_changes_nothing_are_not_recorded(
    api, commit, tenant, rule
):
    problem(api.patch(f"/api/v1/point-rules/{rule.pk}", {"points": "x"}, format="json"), 400)
    assert (
        commit(
            lambda: api.patch(f"/api/v1/point-rules/{rule.pk}", {"points": 10}, format="json")
        ).status_code
        == 200
    )
    assert updates("point_rule") == []


def test_config_changes_grants_adjustments_and_decisions_are_all_recorded(
    api, commit, tenant, agent, rule
):
    def ok(response, status=(200, 201, 204)):
        assert response.status_code in status, response.content
        return response

    ok(commit(lambda: api.delete(f"/api/v1/point-rules/{rule.pk}")))
    ok(commit(lambda: api.put(
        "/api/v1/levels",
        [{"number": 1, "name": "Rookie", "min_points": 0},
         {"number": 2, "name": "Pro", "min_points": 100}],
        format="json",
    )))  # fmt: skip
    ok(commit(lambda: api.post(
        "/api/v1/badges",
        {"code": "first", "name": "First", "criteria": {"kind": "points", "points": 1}},
        format="json",
    )))  # fmt: skip
    ok(commit(lambda: api.patch("/api/v1/badges/first", {"coins": 5}, format="json")))
    ok(commit(lambda: api.patch("/api/v1/kpis/aht", {"min_volume": 3}, format="json")))
    reward = ok(commit(lambda: api.post(
        "/api/v1/rewards", {"name": "Lunch", "cost": 10}, format="json"
    ))).json()  # fmt: skip
    ok(commit(lambda: api.patch(f"/api/v1/rewards/{reward['id']}", {"cost": 12}, format="json")))
    ok(commit(lambda: api.post(
        "/api/v1/agents/a1/wallet/grants", {"amount": 50, "reason": "kudos"}, format="json"
    )))  # fmt: skip
    ok(commit(lambda: api.post(
        "/api/v1/agents/a1/points/adjustments", {"points": 3, "reason": "fix"}, format="json"
    )))  # fmt: skip
    redemption = ok(commit(lambda: api.post(
        "/api/v1/redemptions", {"agent": "a1", "reward": reward["id"]}, format="json"
    ))).json()  # fmt: skip
    ok(commit(lambda: api.post(
        f"/api/v1/redemptions/{redemption['id']}/reject", {"note": "Out of season"}, format="json"
    )))  # fmt: skip
    got = list(AuditEntry.objects.order_by("id").values_list("action", "object_type"))
    assert got == [
        ("create", "point_rule"),  # the fixture, outside any request: "system"
        ("delete", "point_rule"),
        ("update", "levels"),
        ("create", "badge"),
        ("update", "badge"),
        ("update", "kpi"),
        ("create", "reward"),
        ("update", "reward"),
        ("grant", "agent_coins"),
        ("adjust", "agent_points"),
        ("reject", "redemption"),
    ]
    entries = list(AuditEntry.objects.order_by("id"))
    assert entries[0].actor == "system"
    assert {e.actor_kind for e in entries[1:]} == {"api_key"}
    levels = entries[2]
    assert levels.before == {"levels": []}  # a new tenant has no level table yet
    assert levels.after == {
        "levels": [
            {"number": 1, "name": "Rookie", "min_points": 0},
            {"number": 2, "name": "Pro", "min_points": 100},
        ]
    }
    assert (entries[4].before, entries[4].after) == ({"coins": 0}, {"coins": 5})
    assert (entries[5].before, entries[5].after) == ({"min_volume": "10"}, {"min_volume": "3"})
    assert (entries[7].before, entries[7].after) == ({"cost": 10}, {"cost": 12})
    assert entries[9].after == {"points": 3, "reason": "fix", "day": entries[9].after["day"]}
    assert entries[10].before == {"status": "requested", "note": ""}
    assert entries[10].after == {"status": "rejected", "note": "Out of season"}


def test_contest_changes_are_recorded(api, commit, tenant, agent):
    body = {
        "name": "Week sprint",
        "kind": "ranked",
        "entity": "agent",
        "metric": "points",
        "starts_at": "2030-01-06T00:00:00+08:00",
        "ends_at": "2030-01-13T00:00:00+08:00",
    }
    created = commit(lambda: api.post("/api/v1/contests", body, format="json"))
    assert created.status_code == 201, created.content
    contest = created.json()["id"]
    assert (
        commit(
            lambda: api.patch(f"/api/v1/contests/{contest}", {"name": "Sprint"}, format="json")
        ).status_code
        == 200
    )
    assert commit(lambda: api.post(f"/api/v1/contests/{contest}/cancel")).status_code == 200
    entries = list(AuditEntry.objects.filter(object_type="contest").order_by("id"))
    assert [e.action for e in entries] == ["create", "update", "cancel"]
    assert (entries[1].before, entries[1].after) == ({"name": "Week sprint"}, {"name": "Sprint"})
    assert entries[2].after == {"status": "cancelled"}


def test_entries_are_append_only(tenant):
    entry = audit_record(
        tenant=tenant, action="update", object_type="badge", object_id="x", before={"a": 1},
        after={"a": 2},
    )  # fmt: skip
    assert entry is not None
    with pytest.raises(AuditAppendOnly):
        entry.save()
    with pytest.raises(AuditAppendOnly):
        entry.delete()
    with pytest.raises(AuditAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(actor="someone")
    with pytest.raises(AuditAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    # and the database itself, for whatever bypasses the ORM
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET actor = 'x' WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).actor == "system"


def test_the_actor_of_a_command_or_a_task(tenant):
    assert current_actor().id == "system"
    with acting_as(Actor("command:import_game", "import_game")):
        entry = audit_record(tenant=tenant, action="create", object_type="badge", object_id="b")
    assert entry is not None
    assert (entry.actor, entry.actor_kind) == ("command:import_game", "system")
    set_process_default_from_argv(["manage.py", "import_game", "--tenant", "x"])
    try:
        assert current_actor().id == "command:import_game"
    finally:
        set_process_default_from_argv(["manage.py", "runserver"])
        from accounts.audit import context

        context._process_default = context.SYSTEM
    assert current_actor().id == "system"


# --- in the admin ---------------------------------------------------------------------------
@pytest.fixture
def logged(tenant, outsider, agent):
    """Entries of both tenants, by several actors."""
    with acting_as(Actor("user:1", "alice")):
        game.point_rule_create(
            tenant=tenant,
            values={"name": "Ours", "kpi": "contacts_handled", "kind": "per_unit", "points": 1},
        )
    with acting_as(Actor("key:abc", "crm")):
        wallet.reward_create(tenant=tenant, values={"name": "Our lunch", "cost": 5})
    with acting_as(Actor("user:99", "zed-secret-manager")):
        wallet.reward_create(tenant=outsider, values={"name": "Their secret prize", "cost": 5})


def test_managers_and_viewers_read_the_log_filtered_and_searched(client, staff, tenant, logged):
    for role in ("owner", "manager", "viewer"):
        client.force_login(staff(tenant, role))
        html = client.get(LOG).content.decode()
        assert "Ours" in html
        assert "Our lunch" in html
        assert "Their secret prize" not in html
        assert "zed-secret-manager" not in html
    by_actor = client.get(LOG, {"actor": "key:abc"}).content.decode()
    assert "Our lunch" in by_actor
    assert ">Ours<" not in by_actor
    by_type = client.get(LOG, {"object_type": "point_rule"}).content.decode()
    assert ">Ours<" in by_type
    assert "Our lunch" not in by_type
    by_action = client.get(LOG, {"action": "delete"}).content.decode()
    assert "Our lunch" not in by_action
    assert "Our lunch" in client.get(LOG, {"q": "lunch"}).content.decode()
    assert "0 audit log" in client.get(LOG, {"q": "secret"}).content.decode()
    entry = AuditEntry.objects.get(object_repr="Our lunch")
    page = client.get(f"{LOG}{entry.pk}/change/").content.decode()
    assert "gamify-audit-changes" in page
    assert "Our lunch" in page


def test_nobody_adds_changes_or_deletes_an_entry_in_the_admin(
    client, staff, tenant, logged, admin_user
):
    entry = AuditEntry.objects.filter(tenant=tenant).first()
    for user in (staff(tenant, "owner"), admin_user):
        client.force_login(user)
        assert client.get(f"{LOG}add/").status_code == 403
        assert client.post(f"{LOG}{entry.pk}/change/", {"actor": "x"}).status_code == 403
        assert client.post(f"{LOG}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
        assert "delete_selected" not in client.get(LOG).content.decode()
    assert AuditEntry.objects.get(pk=entry.pk).actor == entry.actor


def test_another_tenants_manager_sees_nothing_of_the_log(client, staff, tenant, outsider, logged):
    client.force_login(staff(outsider))
    html = client.get(LOG).content.decode()
    assert "Their secret prize" in html
    assert "Our lunch" not in html
    assert "alice" not in html
    assert "key:abc" not in html
    ours = AuditEntry.objects.get(object_repr="Our lunch")
    response = client.get(f"{LOG}{ours.pk}/change/")
    assert response.status_code == 302
    assert b"Our lunch" not in response.content


def test_admin_settings_conversion_and_level_changes_go_through_audited_services(
    client, staff, tenant
):
    manager = staff(tenant)
    client.force_login(manager)
    settings_form = {"tenant": tenant.pk, "grace_minutes": "60"}
    assert client.post("/admin/game/gamesettings/add/", settings_form).status_code == 302
    row = tenant.gamesettings
    form = {"tenant": tenant.pk, "grace_minutes": "90"}
    assert client.post(f"/admin/game/gamesettings/{row.pk}/change/", form).status_code == 302
    conversion = {"tenant": tenant.pk, "points_per_coin": "10", "active": "on"}
    assert client.post("/admin/wallet/conversionrule/add/", conversion).status_code == 302
    game.levels_replace(
        tenant=tenant,
        levels=[
            {"number": 1, "name": "Rookie", "min_points": 0},
            {"number": 2, "name": "Pro", "min_points": 100},
            {"number": 3, "name": "Star", "min_points": 500},
        ],
    )
    middle = Level.objects.get(tenant=tenant, number=2)
    refused = client.post(f"/admin/game/level/{middle.pk}/delete/", {"post": "yes"}, follow=True)
    assert "Not deleted" in refused.content.decode()
    assert Level.objects.filter(tenant=tenant).count() == 3
    top = Level.objects.get(tenant=tenant, number=3)
    assert client.post(f"/admin/game/level/{top.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(Level.objects.filter(tenant=tenant).values_list("name", flat=True)) == [
        "Rookie",
        "Pro",
    ]
    mine = AuditEntry.objects.filter(actor=f"user:{manager.pk}").order_by("id")
    rookie, pro = (
        {"number": 1, "name": "Rookie", "min_points": 0},
        {
            "number": 2,
            "name": "Pro",
            "min_points": 100,
        },
    )
    star = {"number": 3, "name": "Star", "min_points": 500}
    assert [(e.action, e.object_type, e.before, e.after) for e in mine] == [
        ("create", "game_settings", None, {"grace_minutes": 60}),
        ("update", "game_settings", {"grace_minutes": 60}, {"grace_minutes": 90}),
        ("create", "conversion_rule", None, {"points_per_coin": 10, "active": True}),
        ("update", "levels", {"levels": [rookie, pro, star]}, {"levels": [rookie, pro]}),
    ]
