"""The webhooks API: secrets shown once, bad input named, tenants apart, no N+1."""

from __future__ import annotations

import pytest

from accounts.models import Tenant
from gamify.webhooks.models import Attempt, Delivery, Endpoint
from gamify.webhooks.services import endpoint_create
from tests.webhooks.support import subscribe

pytestmark = pytest.mark.django_db


def test_the_secret_is_shown_at_creation_only_and_not_stored(api, receiver):
    response = api.post(
        "/api/v1/webhooks",
        {"url": receiver.url, "events": ["badge.awarded", "level.up"]},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert body["events"] == ["badge.awarded", "level.up"]
    assert body["active"] is True
    assert body["secret_prefix"] == secret[:12]
    shown = api.get(f"/api/v1/webhooks/{body['id']}").json()
    assert "secret" not in shown
    assert all("secret" not in item for item in api.get("/api/v1/webhooks").json()["results"])
    row = Endpoint.objects.filter(pk=body["id"]).values().get()
    assert all(secret not in str(value) for value in row.values())


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/x", "https"),
        ("not a url", "https"),
        ("https://", "no host"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("", "blank"),
    ],
)
def test_a_bad_url_is_a_400_naming_url(api, url, why):
    response = api.post("/api/v1/webhooks", {"url": url, "events": ["*"]}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert list(errors) == ["url"]
    assert why in errors["url"][0]


@pytest.mark.parametrize("events", [["badge.awarded", "badge.eaten"], [], "badge.awarded", [3]])
def test_an_unknown_event_type_is_a_400_naming_events(api, receiver, events):
    response = api.post("/api/v1/webhooks", {"url": receiver.url, "events": events}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["events"]
    if events == ["badge.awarded", "badge.eaten"]:
        assert "badge.eaten" in response.json()["errors"]["events"][0]


def test_unknown_fields_are_named(api, receiver):
    response = api.post(
        "/api/v1/webhooks", {"url": receiver.url, "events": ["*"], "secret": "x"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["secret"]


def test_update_and_delete(api, receiver):
    hook = subscribe(api, receiver.url)
    response = api.patch(
        f"/api/v1/webhooks/{hook['id']}", {"events": ["contest.won"]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["events"] == ["contest.won"]
    assert response.json()["url"] == receiver.url
    bad = api.patch(f"/api/v1/webhooks/{hook['id']}", {"url": "gopher://x"}, format="json")
    assert bad.status_code == 400
    assert list(bad.json()["errors"]) == ["url"]
    assert api.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert api.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404


def test_another_tenants_webhooks_are_404(api, outsider_api, receiver):
    hook = subscribe(api, receiver.url)
    ping = api.post(f"/api/v1/webhooks/{hook['id']}/test")
    delivery = ping.json()["id"]
    base = f"/api/v1/webhooks/{hook['id']}"
    for response in [
        outsider_api.get(base),
        outsider_api.patch(base, {"active": False}, format="json"),
        outsider_api.delete(base),
        outsider_api.post(f"{base}/test"),
        outsider_api.post(f"{base}/rotate-secret"),
        outsider_api.get(f"{base}/deliveries"),
        outsider_api.get(f"{base}/deliveries/{delivery}"),
        outsider_api.post(f"{base}/deliveries/{delivery}/redeliver"),
    ]:
        assert response.status_code == 404, response.json()
    assert outsider_api.get("/api/v1/webhooks").json()["results"] == []
    # A delivery of another endpoint of the same tenant is not found under this one either.
    other = subscribe(api, receiver.url)
    assert api.get(f"/api/v1/webhooks/{other['id']}/deliveries/{delivery}").status_code == 404
    assert Endpoint.objects.get(pk=hook["id"]).active


def test_webhooks_need_the_manage_scope(tenant, make_client):
    reader = make_client(tenant, scopes=("read",))
    assert reader.get("/api/v1/webhooks").status_code == 403
    assert reader.post("/api/v1/webhooks", {}, format="json").status_code == 403


def _deliveries(tenant: Tenant, endpoint: Endpoint, n: int, attempts: int) -> None:
    from django.utils import timezone

    now = timezone.now()
    rows = Delivery.objects.bulk_create(
        [
            Delivery(
                tenant=tenant,
                endpoint=endpoint,
                event_type="level.up",
                payload={},
                next_attempt_at=now,
            )
            for _ in range(n)
        ]
    )
    Attempt.objects.bulk_create(
        [
            Attempt(delivery=d, started_at=now, duration_ms=3, status_code=500)
            for d in rows
            for _ in range(attempts)
        ]
    )


def test_list_endpoints_make_a_fixed_number_of_queries(
    api, tenant, receiver, django_assert_max_num_queries
):
    hooks = [endpoint_create(tenant=tenant, url=receiver.url, events=["*"]) for _ in range(3)]
    _deliveries(tenant, hooks[0].endpoint, 3, 2)
    with django_assert_max_num_queries(6) as small:
        assert len(api.get("/api/v1/webhooks").json()["results"]) == 3
    with django_assert_max_num_queries(7) as small_deliveries:
        page = api.get(f"/api/v1/webhooks/{hooks[0].endpoint.pk}/deliveries").json()
    assert [len(d["attempts"]) for d in page["results"]] == [2, 2, 2]
    for _ in range(20):
        endpoint_create(tenant=tenant, url=receiver.url, events=["*"])
    _deliveries(tenant, hooks[0].endpoint, 20, 4)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(api.get("/api/v1/webhooks").json()["results"]) == 23
    with django_assert_max_num_queries(len(small_deliveries.captured_queries)):
        page = api.get(f"/api/v1/webhooks/{hooks[0].endpoint.pk}/deliveries").json()
    assert len(page["results"]) == 23
