"""Fail-closed tenancy (core/tenancy.py): a query of tenant-owned rows that forgot its tenant
filter is an exception outside a tenant scope and sees only the scope's rows inside one.

The forgetful code lives in tests/tenancy_probe.py, which the rule treats as application
code (test modules themselves may read across tenants to assert rows)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count, Q

from accounts.models import Agent, AgentHistory, Team, Tenant
from accounts.services import agent_upsert, team_upsert
from core import tenancy
from core.tenancy import TenantScopeMissing
from tests import tenancy_probe

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams(tenant: Tenant, outsider: Tenant, agent: Any) -> tuple[Team, Team]:
    """Tier 1 (with agent a1) in `tenant`, Rivals in `outsider`."""
    theirs, _ = team_upsert(
        tenant=outsider, external_id="r1", name="Rivals", parent_external_id=None
    )
    agent_upsert(tenant=outsider, external_id="o1", display_name="Oz", team_external_id="r1")
    return Team.objects.get(tenant=tenant), theirs


def evaluate(queryset: Any, how: str) -> Any:
    return tenancy_probe.evaluate(queryset, how)


@pytest.mark.urls("tests.urls_testing")
def test_an_api_view_that_forgot_its_filter_sees_its_callers_tenant_only(
    api: Any, outsider_api: Any, teams: tuple[Team, Team]
) -> None:
    assert api.get("/api/v1/_test/forgetful-teams").json() == {"teams": ["Tier 1"]}
    assert outsider_api.get("/api/v1/_test/forgetful-teams").json() == {"teams": ["Rivals"]}
    assert tenancy.current() is None  # the view's scope ended with it


@pytest.mark.urls("tests.urls_testing")
def test_a_page_outside_every_scope_that_forgot_its_filter_is_refused(
    client: Any, teams: tuple[Team, Team]
) -> None:
    with pytest.raises(TenantScopeMissing, match=r"Team queried without a tenant filter"):
        client.get("/_test/forgetful-page")


def test_plain_code_that_forgot_its_filter_raises_and_names_where(
    tenant: Tenant, outsider: Tenant, teams: tuple[Team, Team]
) -> None:
    with pytest.raises(TenantScopeMissing, match=r"tests/tenancy_probe\.py:\d+"):
        tenancy_probe.team_names()
    with tenancy.tenant_scope(outsider):
        assert tenancy_probe.team_names() == ["Rivals"]
    with tenancy.tenant_scope([tenant, outsider.pk]):
        assert tenancy_probe.team_names() == ["Rivals", "Tier 1"]
    with tenancy.scopes_disabled():
        assert tenancy_probe.team_names() == ["Rivals", "Tier 1"]
    assert evaluate(Team.objects.unscoped(), "count") == 2
    assert tenancy.current() is None


@pytest.mark.parametrize(
    "how", ["list", "count", "exists", "aggregate", "update", "delete", "iterator", "first"]
)
def test_every_way_of_running_an_unfiltered_query_is_refused(
    how: str, teams: tuple[Team, Team]
) -> None:
    with pytest.raises(TenantScopeMissing):
        evaluate(Agent.objects.all(), how)
    assert Agent.objects.count() == 2  # nothing was deleted or changed
    assert sorted(Agent.objects.values_list("display_name", flat=True)) == ["Ann Lee", "Oz"]


def test_a_filter_that_does_not_pin_the_tenant_is_refused(
    tenant: Tenant, teams: tuple[Team, Team]
) -> None:
    ours, _ = teams
    refused = [
        Agent.objects.filter(pk=ours.pk),  # an id alone may be another tenant's
        Agent.objects.filter(Q(tenant=tenant) | Q(external_id="o1")),  # one branch is open
        Agent.objects.exclude(tenant=tenant),  # every other tenant's
        Agent.objects.filter(team__tenant=tenant),  # the team's tenant, not the agent's
    ]
    for queryset in refused:
        with pytest.raises(TenantScopeMissing):
            evaluate(queryset, "list")


def test_filtered_queries_and_a_loaded_objects_relations_pass(
    tenant: Tenant, outsider: Tenant, teams: tuple[Team, Team]
) -> None:
    _, theirs = teams
    assert evaluate(Agent.objects.for_tenant(tenant).values_list("external_id"), "list") == [
        ("a1",)
    ]
    assert evaluate(Agent.objects.filter(tenant_id__in=[outsider.pk]), "count") == 1
    either = Agent.objects.filter(Q(tenant=tenant, active=True) | Q(tenant=outsider))
    assert evaluate(either, "count") == 2
    # A relation of an object already found in its tenant: the row's tenant is the parent's.
    assert [a.external_id for a in evaluate(theirs.agents.all(), "list")] == ["o1"]
    agent = Agent.objects.get(tenant=tenant)
    assert evaluate(agent.history.all(), "count") == 1
    prefetched = evaluate(Team.objects.for_tenant(tenant).prefetch_related("agents"), "list")
    assert [a.external_id for a in prefetched[0].agents.all()] == ["a1"]
    assert evaluate(AgentHistory.objects.for_tenant(outsider), "count") == 1


def test_a_scope_limits_writes_to_its_tenant(
    tenant: Tenant, outsider: Tenant, teams: tuple[Team, Team]
) -> None:
    with tenancy.tenant_scope(tenant):
        assert evaluate(Team.objects.all(), "update") == 1
        # Even a filter naming the other tenant finds nothing of it inside this scope.
        assert evaluate(Team.objects.filter(tenant=outsider), "count") == 0
    names = dict(Team.objects.values_list("tenant__slug", "name"))
    assert names == {"acme": "renamed", "outsider": "Rivals"}


def test_a_task_naming_its_tenant_runs_in_that_tenants_scope(
    tenant: Tenant, outsider: Tenant, teams: tuple[Team, Team]
) -> None:
    assert tenancy_probe.team_names_of.delay(tenant.pk).get() == ["Tier 1"]
    assert tenancy_probe.team_names_of.delay(tenant_id=outsider.pk).get() == ["Rivals"]
    # Run in-process from inside another tenant's request, it still gets its own tenant,
    # and the caller's scope is back afterwards.
    with tenancy.tenant_scope(outsider):
        assert tenancy_probe.team_names_of.delay(tenant.pk).get() == ["Tier 1"]
        assert tenancy.current() == frozenset({outsider.pk})
    assert tenancy.current() is None


def test_a_task_naming_no_tenant_is_refused_a_forgotten_filter_even_inside_a_request(
    tenant: Tenant, teams: tuple[Team, Team]
) -> None:
    with pytest.raises(TenantScopeMissing):
        tenancy_probe.team_names_anywhere.delay("x").get()
    with tenancy.tenant_scope(tenant), pytest.raises(TenantScopeMissing):
        tenancy_probe.team_names_anywhere.delay("x").get()  # as it would on a worker
    assert tenancy.current() is None


def test_the_aggregate_of_a_scope_counts_its_tenant_only(
    tenant: Tenant, teams: tuple[Team, Team]
) -> None:
    with tenancy.tenant_scope(tenant):
        assert evaluate(Agent.objects.all(), "aggregate") == {"n": 1}
    assert Agent.objects.aggregate(n=Count("id")) == {"n": 2}
