"""factory-boy factories for the models tests build on."""

from __future__ import annotations

import factory

from accounts.models import Agent, Team, Tenant


class TenantFactory(factory.django.DjangoModelFactory[Tenant]):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")
    timezone = "Asia/Shanghai"


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team

    tenant = factory.SubFactory(TenantFactory)
    external_id = factory.Sequence(lambda n: f"team-{n}")
    name = factory.Sequence(lambda n: f"Team {n}")


class AgentFactory(factory.django.DjangoModelFactory[Agent]):
    class Meta:
        model = Agent

    tenant = factory.SubFactory(TenantFactory)
    external_id = factory.Sequence(lambda n: f"agent-{n}")
    display_name = factory.Sequence(lambda n: f"Agent {n}")
