"""Agents moving between teams while their events stream in, at once, on real PostgreSQL
connections: every event counts for the team the agent was in when it occurred — by the
agent's history as it stands once everything committed — and so do the team buckets.

(Issue 14 saw a moved agent's event counted for the old team once in five runs. A batch read
the agent's history before a concurrent move committed and stamped the event with the old team
for good; the move also took its time before locking the agent, so two moves could record
their history in the opposite order of their commits.)"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from datetime import timedelta
from itertools import count

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AgentHistory, Team
from accounts.services import agent_upsert, team_upsert, tenant_create
from kpis.ingest import events_ingest
from kpis.models import RawEvent, TeamDay

pytestmark = [pytest.mark.django_db(transaction=True)]

_tenants = count()


def in_thread(target, *args):
    def run():
        try:
            target(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    moves=st.integers(3, 8),
    batches=st.integers(3, 8),
    size=st.integers(1, 20),
    pause_ms=st.integers(0, 5),
)
def test_events_count_for_the_team_of_their_moment(moves, batches, size, pause_ms):
    close_old_connections()
    tenant = tenant_create(name="Moves", slug=f"moves-{next(_tenants)}")
    for team in ("t1", "t2"):
        team_upsert(tenant=tenant, external_id=team, name=team, parent_external_id=None)
    agent_upsert(tenant=tenant, external_id="a1", display_name="Ann", team_external_id="t1")
    errors: list[BaseException] = []
    ids = count()

    def mover() -> None:
        try:
            for n in range(moves):
                team = "t2" if n % 2 == 0 else "t1"
                agent_upsert(tenant=tenant, external_id="a1", display_name="Ann",
                             team_external_id=team)  # fmt: skip
                time.sleep(pause_ms / 1000)
        except BaseException as exc:
            errors.append(exc)

    def poster() -> None:
        try:
            for _ in range(batches):
                # A platform stamps the event when it happens, then sends it.
                at = timezone.now()
                items = [
                    {"event_id": f"e{next(ids)}", "type": "interaction", "agent": "a1",
                     "occurred_at": (at - timedelta(microseconds=i)).isoformat(),
                     "answered": True, "talk_seconds": 30}
                    for i in range(size)
                ]  # fmt: skip
                result = events_ingest(tenant=tenant, items=items)
                assert result.accepted == size, result.rejected
                time.sleep(pause_ms / 1000)
        except BaseException as exc:
            errors.append(exc)

    threads = [in_thread(mover), in_thread(poster), in_thread(poster)]
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    history = list(
        AgentHistory.objects.filter(tenant=tenant).order_by("valid_from", "id")
        .values_list("valid_from", "team_id")
    )  # fmt: skip
    froms = [f for f, _ in history]

    def team_at(instant):
        return history[max(0, bisect_right(froms, instant) - 1)][1]

    events = list(RawEvent.objects.filter(tenant=tenant).values_list("occurred_at", "team_id"))
    assert len(events) == 2 * batches * size
    wrong = [(at, team) for at, team in events if team != team_at(at)]
    assert not wrong, wrong
    # The team buckets hold exactly the events stamped with each team.
    teams = dict(Team.objects.filter(tenant=tenant).values_list("id", "external_id"))
    in_buckets = dict.fromkeys(teams.values(), 0)
    for team, answered in TeamDay.objects.filter(tenant=tenant).values_list("team_id", "answered"):
        in_buckets[teams[team]] += answered
    stamped = {teams[t]: sum(1 for _, team in events if team == t) for t in teams}
    assert in_buckets == stamped
