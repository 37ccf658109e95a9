"""The stored payload text (and so every body hash) is exactly what json.dumps gives."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from kpis.ingest import compact_json

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),  # quotes, backslashes, control characters, non-ASCII, astral planes
)


@settings(max_examples=500, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=20), scalars, max_size=16))
def test_compact_json_is_json_dumps_with_compact_separators(payload):
    assert compact_json(payload) == json.dumps(payload, separators=(",", ":"))


def test_a_payload_as_stored():
    payload = {"channel": "voice", "talk_seconds": 301.5, "saved": False, "queue": "ventes é"}
    assert compact_json(payload) == (
        '{"channel":"voice","talk_seconds":301.5,"saved":false,"queue":"ventes \\u00e9"}'
    )
