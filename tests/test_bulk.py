"""bulk_upsert: the set-based statement and the portable bulk_create agree, row for row."""

from __future__ import annotations

from datetime import date

import pytest

from core import bulk
from gamify.game.models import AgentDayPoints, AgentGameState
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["unnest", "portable"])
def mode(request, monkeypatch):
    monkeypatch.setattr(bulk, "FORCE_PORTABLE", request.param == "portable")
    return request.param


def test_inserts_then_updates_only_the_update_columns(mode, tenant):
    ann, bo = AgentFactory(tenant=tenant), AgentFactory(tenant=tenant)
    day = date(2026, 11, 20)
    fields = ["tenant_id", "agent_id", "day", "points"]
    unique = ["tenant_id", "agent_id", "day"]
    bulk.bulk_upsert(AgentDayPoints, [(tenant.pk, bo.pk, day, 5), (tenant.pk, ann.pk, day, 7)],
                     fields=fields, unique=unique, update=["points"])  # fmt: skip
    bulk.bulk_upsert(AgentDayPoints, [(tenant.pk, ann.pk, day, 9),
                                      (tenant.pk, ann.pk, date(2026, 11, 21), 1)],
                     fields=fields, unique=unique, update=["points"])  # fmt: skip
    rows = set(AgentDayPoints.objects.values_list("agent_id", "day", "points"))
    assert rows == {(bo.pk, day, 5), (ann.pk, day, 9), (ann.pk, date(2026, 11, 21), 1)}

    fields = ["agent_id", "tenant_id", "lifetime_points", "level", "highest_level"]
    bulk.bulk_upsert(AgentGameState, [(ann.pk, tenant.pk, 100, 2, 3)], fields=fields,
                     unique=["agent_id"], update=["lifetime_points", "level"])  # fmt: skip
    bulk.bulk_upsert(AgentGameState, [(ann.pk, tenant.pk, 40, 1, 1)], fields=fields,
                     unique=["agent_id"], update=["lifetime_points", "level"])  # fmt: skip
    state = AgentGameState.objects.get(agent=ann)
    # highest_level is not an update column: the first insert's value stays
    assert (state.lifetime_points, state.level, state.highest_level) == (40, 1, 3)


def test_nothing_to_write_is_no_statement(mode, django_assert_num_queries):
    with django_assert_num_queries(0):
        bulk.bulk_upsert(AgentDayPoints, [], fields=["points"], unique=["points"], update=[])
