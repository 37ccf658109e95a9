"""The webhooks admin: managers subscribe through the same checks as the API, see a secret
once, and see and redeliver their own tenant's deliveries only; viewers only look."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Membership
from gamify.webhooks.models import Delivery, Endpoint
from gamify.webhooks.services import endpoint_create, endpoint_ping

pytestmark = pytest.mark.django_db

ENDPOINTS = "/admin/webhooks/endpoint/"
DELIVERIES = "/admin/webhooks/delivery/"


@pytest.fixture
def staff():
    def make(tenant, role="manager"):
        user = get_user_model().objects.create_user(
            f"{role}-{tenant.slug}", password="pw-123456789", is_staff=True
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


def test_a_manager_subscribes_and_sees_the_secret_once(client, staff, tenant, receiver):
    client.force_login(staff(tenant))
    response = client.post(
        f"{ENDPOINTS}add/",
        {"tenant": tenant.pk, "url": receiver.url, "events": ["badge.awarded"], "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "whsec_" in page
    endpoint = Endpoint.objects.get(tenant=tenant)
    assert endpoint.events == ["badge.awarded"]
    again = client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert "whsec_" not in again.replace(endpoint.secret_prefix, "")


def test_the_admin_refuses_a_private_receiver_naming_url(client, staff, tenant, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    client.force_login(staff(tenant))
    response = client.post(
        f"{ENDPOINTS}add/",
        {"tenant": tenant.pk, "url": "http://169.254.169.254/", "events": ["*"], "active": "on"},
    )
    assert response.status_code == 200  # the form again, with the error on its field
    assert "link-local" in response.context["adminform"].form.errors["url"][0]
    assert not Endpoint.objects.exists()


def test_each_role_sees_its_own_tenant_only(client, staff, tenant, outsider, receiver, commit):
    mine = endpoint_create(tenant=tenant, url=receiver.url + "?mine", events=["*"]).endpoint
    theirs = endpoint_create(tenant=outsider, url=receiver.url + "?theirs", events=["*"]).endpoint
    commit(lambda: endpoint_ping(endpoint=mine))
    commit(lambda: endpoint_ping(endpoint=theirs))
    for role in ("owner", "manager", "viewer"):
        client.force_login(staff(tenant, role))
        listed = client.get(ENDPOINTS).content.decode()
        assert "?mine" in listed
        assert "?theirs" not in listed
        deliveries = client.get(DELIVERIES).content.decode()
        assert f"{DELIVERIES}{Delivery.objects.get(endpoint=mine).pk}/" in deliveries
        foreign = Delivery.objects.get(endpoint=theirs)
        assert f"{DELIVERIES}{foreign.pk}/" not in deliveries
        assert client.get(f"{DELIVERIES}{foreign.pk}/change/").status_code in (302, 404)
        assert client.get(f"{ENDPOINTS}{theirs.pk}/change/").status_code in (302, 404)


def test_a_manager_redelivers_and_a_viewer_cannot_change(client, staff, tenant, receiver, commit):
    endpoint = endpoint_create(tenant=tenant, url=receiver.url, events=["*"]).endpoint
    commit(lambda: endpoint_ping(endpoint=endpoint))
    delivery = Delivery.objects.get(endpoint=endpoint)
    client.force_login(staff(tenant))
    commit(
        lambda: client.post(DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]})
    )
    assert len(receiver.received) == 2
    assert delivery.attempt_set.count() == 2
    client.force_login(staff(tenant, "viewer"))
    response = client.post(
        f"{ENDPOINTS}{endpoint.pk}/change/",
        {"url": receiver.url, "events": ["level.up"], "active": "on"},
    )
    assert response.status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.events == ["*"]
