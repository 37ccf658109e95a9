"""`field__any`: one array parameter on PostgreSQL, an IN list elsewhere, the same rows."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
from django.test.utils import CaptureQueriesContext

from accounts.models import Agent
from gamify.game.models import AgentDayPoints
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_matches_the_same_rows_as_in(tenant):
    agents = [AgentFactory(tenant=tenant) for _ in range(4)]
    wanted = {agents[0].pk, agents[2].pk, 10**9}  # an id nobody has is simply not found
    assert (
        set(Agent.objects.filter(pk__any=wanted).values_list("pk", flat=True))
        == set(Agent.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        == {agents[0].pk, agents[2].pk}
    )
    names = {agents[1].external_id, agents[3].external_id}
    assert set(Agent.objects.filter(external_id__any=names)) == {agents[1], agents[3]}
    assert not Agent.objects.filter(pk__any=[]).exists()


def test_a_relation_and_dates(tenant):
    ann, bo = AgentFactory(tenant=tenant), AgentFactory(tenant=tenant)
    for agent, day in (
        (ann, date(2026, 11, 20)),
        (bo, date(2026, 11, 21)),
        (ann, date(2026, 11, 22)),
    ):
        AgentDayPoints.objects.create(tenant=tenant, agent=agent, day=day, points=1)
    rows = AgentDayPoints.objects.filter(
        agent_id__any={ann.pk: 1}.keys(), day__any=[date(2026, 11, 20), date(2026, 11, 21)]
    )
    assert list(rows.values_list("agent_id", "day")) == [(ann.pk, date(2026, 11, 20))]


def test_hundreds_of_ids_are_one_parameter_on_postgresql(tenant):
    ids = list(range(1, 501))
    with CaptureQueriesContext(connection) as queries:
        list(Agent.objects.filter(tenant=tenant, pk__any=ids))
    sql = queries.captured_queries[0]["sql"]
    assert '"accounts_agent"."id" = ANY(' in sql
    assert "IN (" not in sql
    # typed as the column: a cross-type comparison could not be hashed (one test per element)
    assert "::bigint[])" in sql


def test_off_postgresql_it_is_an_in_list(settings):
    sqlite = SQLiteWrapper(
        {
            **settings.DATABASES["default"],
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
        },
        alias="lookup-check",
    )
    sql, params = (
        Agent.objects.filter(pk__any=[3, 1]).query.get_compiler(connection=sqlite).as_sql()
    )
    assert '"accounts_agent"."id" IN (%s, %s)' in sql
    assert params == (3, 1)


def test_a_single_value_is_refused():
    with pytest.raises(TypeError, match="collection"):
        Agent.objects.filter(external_id__any="sim-0001")
