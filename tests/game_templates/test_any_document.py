"""Whatever JSON a client sends as a game document, the answer is 200 or a 400 naming paths,
never a 500, and a 400 leaves the tenant as it was."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamify.game.models import Badge, Level, PointRule
from gamify.game_templates.document import bundled_document
from gamify.wallet.models import Reward

pytestmark = pytest.mark.django_db

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
starter = bundled_document("starter")
SECTION_NAMES = [k for k in starter if k != "format"]


@st.composite
def documents(draw: st.DrawFn) -> dict:
    """The starter with some items' fields replaced by anything, some sections by anything."""
    document = copy.deepcopy(starter)
    for name in draw(st.lists(st.sampled_from(SECTION_NAMES), max_size=3, unique=True)):
        section = document[name]
        if isinstance(section, list) and section and draw(st.booleans()):
            index = draw(st.integers(0, len(section) - 1))
            item = dict(section[index])
            field = draw(st.sampled_from([*item, "extra"]))
            item[field] = draw(values)
            section[index] = item
        else:
            document[name] = draw(values)
    return document


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=documents())
def test_any_document_is_imported_or_refused_by_path(api, tenant, document):
    before = (
        list(PointRule.objects.for_tenant(tenant).values_list("name", "points", "kpi")),
        list(Level.objects.for_tenant(tenant).values_list("number", "min_points")),
        Badge.objects.for_tenant(tenant).count(),
        Reward.objects.for_tenant(tenant).count(),
    )
    response = api.post("/api/v1/game/import", document, format="json")
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["errors"]
        after = (
            list(PointRule.objects.for_tenant(tenant).values_list("name", "points", "kpi")),
            list(Level.objects.for_tenant(tenant).values_list("number", "min_points")),
            Badge.objects.for_tenant(tenant).count(),
            Reward.objects.for_tenant(tenant).count(),
        )
        assert after == before
