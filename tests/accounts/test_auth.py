"""Authentication and scopes: 401 for no or bad credentials, 403 for a missing scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.middleware.csrf import _get_new_csrf_string
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership
from accounts.services import agent_upsert, api_key_revoke
from tests.helpers import problem

pytestmark = pytest.mark.django_db


def test_no_credentials_is_401(tenant):
    response = APIClient().get("/api/v1/agents")
    problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer nonsense", "Bearer abc.def", "Basic dXNlcjpwYXNz", "Bearer ", "Token x.y"],
)
def test_bad_credentials_are_401(tenant, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    problem(client.get("/api/v1/agents"), 401)


def test_key_with_right_prefix_and_wrong_secret_is_401(api, tenant):
    key = ApiKey.objects.get(tenant=tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.prefix}.not-the-secret")
    problem(client.get("/api/v1/agents"), 401)


def test_revoked_key_is_401(tenant, make_client):
    client = make_client(tenant)
    assert client.get("/api/v1/agents").status_code == 200
    api_key_revoke(key=ApiKey.objects.get(tenant=tenant))
    problem(client.get("/api/v1/agents"), 401)


def test_expired_key_is_401(tenant, make_client):
    client = make_client(tenant)
    ApiKey.objects.filter(tenant=tenant).update(expiry_date=timezone.now() - timedelta(seconds=1))
    problem(client.get("/api/v1/agents"), 401)


def test_secret_is_stored_hashed(tenant, make_client):
    make_client(tenant)
    key = ApiKey.objects.get(tenant=tenant)
    assert key.hashed_key.startswith("sha512$$")


def test_missing_scope_is_403(tenant, make_client):
    reader = make_client(tenant, scopes=("read",))
    assert reader.get("/api/v1/agents").status_code == 200
    body = problem(reader.put("/api/v1/teams/t1", {"name": "T"}, format="json"), 403)
    assert "manage" in body["detail"]
    ingester = make_client(tenant, scopes=("ingest",))
    problem(ingester.get("/api/v1/agents"), 403)


def test_last_used_at_is_recorded(tenant, make_client):
    client = make_client(tenant)
    assert ApiKey.objects.get(tenant=tenant).last_used_at is None
    client.get("/api/v1/agents")
    first = ApiKey.objects.get(tenant=tenant).last_used_at
    assert first is not None
    client.get("/api/v1/agents")  # within the minute: not rewritten
    assert ApiKey.objects.get(tenant=tenant).last_used_at == first
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        client.get("/api/v1/agents")
    assert ApiKey.objects.get(tenant=tenant).last_used_at > first


def test_widget_token_sees_its_agent_only(api, tenant, agent):
    agent_upsert(tenant=tenant, external_id="a2", display_name="Bo", team_external_id=None)
    minted = api.post("/api/v1/widget-tokens", {"agent": "a1", "ttl_seconds": 600}, format="json")
    assert minted.status_code == 201
    token = minted.json()["token"]
    widget = APIClient()
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert widget.get("/api/v1/agents/a1").json()["display_name"] == "Ann Lee"
    problem(widget.get("/api/v1/agents/a2"), 403)
    problem(widget.get("/api/v1/agents"), 403)  # lists are not for widgets
    problem(widget.put("/api/v1/agents/a1", {"display_name": "x"}, format="json"), 403)


def test_widget_token_expires(api, agent):
    token = api.post("/api/v1/widget-tokens", {"agent": "a1", "ttl_seconds": 60}, format="json")
    widget = APIClient()
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['token']}")
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        problem(widget.get("/api/v1/agents/a1"), 401)


def test_tampered_widget_token_is_401(api, agent):
    token = api.post("/api/v1/widget-tokens", {"agent": "a1"}, format="json").json()["token"]
    widget = APIClient()
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {token[:-2]}xx")
    problem(widget.get("/api/v1/agents/a1"), 401)


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"agent": "a1", "ttl_seconds": 86401}, "ttl_seconds", 400),
        ({"agent": "a1", "ttl_seconds": "60"}, "ttl_seconds", 400),
        ({"agent": "ghost"}, None, 404),
        ({}, "agent", 400),
    ],
)
def test_widget_token_bad_input(api, agent, body, field, status):
    response = api.post("/api/v1/widget-tokens", body, format="json")
    body = problem(response, status)
    if field:
        assert field in body["errors"]


def test_widget_token_for_outsider_agent_is_404(outsider_api, agent):
    problem(outsider_api.post("/api/v1/widget-tokens", {"agent": "a1"}, format="json"), 404)


def test_manager_session_uses_membership_role(tenant, outsider, agent):
    user = get_user_model().objects.create_user("mia", password="pw-123456789")
    Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.VIEWER)
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(user)
    assert client.get("/api/v1/agents").json()["results"][0]["external_id"] == "a1"
    problem(client.put("/api/v1/teams/x", {"name": "X"}, format="json"), 403)  # viewer
    problem(client.get("/api/v1/agents", HTTP_X_GAMIFY_TENANT="outsider"), 403)


def test_a_manager_session_writes_only_with_a_csrf_token(tenant):
    # The CSRF middleware skips /api/ (API views are csrf_exempt); DRF's session
    # authentication must still refuse a cross-site write that carries the session cookie.
    user = get_user_model().objects.create_user("max", password="pw-123456789")
    Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.MANAGER)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    refused = problem(client.put("/api/v1/teams/x", {"name": "X"}, format="json"), 403)
    assert "CSRF" in refused["detail"]
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    response = client.put("/api/v1/teams/x", {"name": "X"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code in (200, 201), response.content


def test_whoami_names_tenant_and_scopes_from_the_cache(tenant, make_client, count_queries):
    client = make_client(tenant, scopes=("read", "ingest"))
    first = client.get("/api/v1/whoami")
    assert first.json() == {
        "tenant": "acme", "name": "Acme Support", "timezone": "Asia/Shanghai",
        "scopes": ["ingest", "read"],
    }  # fmt: skip
    assert count_queries(lambda: client.get("/api/v1/whoami")) == 0


def test_a_revoked_key_stops_at_once_despite_the_cache(tenant, make_client):
    client = make_client(tenant)
    assert client.get("/api/v1/whoami").status_code == 200  # now cached
    api_key_revoke(key=ApiKey.objects.get(tenant=tenant))
    problem(client.get("/api/v1/whoami"), 401)
