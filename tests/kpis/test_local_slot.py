"""The per-quarter-hour cache of local hours and dates gives what a direct conversion gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from kpis.ingest.fold import Folded as _Folded
from kpis.ingest.fold import local_hour_and_day as _local_hour_and_day

ZONES = [
    "Asia/Shanghai",
    "America/New_York",  # DST: a 23- and a 25-hour day
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # DST of half an hour
    "Asia/Kolkata",  # local mean time +05:53:28 before 1854..1942 changes
    "Pacific/Chatham",  # +12:45 / +13:45
]

instants = st.datetimes(
    min_value=datetime(1880, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=400, deadline=None)
@given(zone=st.sampled_from(ZONES), instant=instants, later=st.integers(0, 899))
def test_cached_local_hours_equal_direct_conversion(zone, instant, later):
    tz = ZoneInfo(zone)
    folded = _Folded()
    second = instant + timedelta(seconds=later)
    # The first call fills the cache; later calls in the same quarter hour read it.
    for t in (instant, second, instant):
        assert folded.local_slot(t, tz) == _local_hour_and_day(t, tz), (zone, t)


def test_a_fall_back_hour_is_two_buckets():
    tz = ZoneInfo("America/New_York")
    folded = _Folded()
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    repeated = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, the same local time
    hours = [folded.local_slot(t, tz)[0] for t in (first, repeated, first, repeated)]
    assert (
        hours
        == [
            datetime(2026, 11, 1, 5, tzinfo=UTC),
            datetime(2026, 11, 1, 6, tzinfo=UTC),
        ]
        * 2
    )
