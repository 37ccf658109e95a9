"""create_tenant and create_api_key, as API.md's Bootstrap section gives them."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey, Tenant

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_create_tenant_prints_json_last_and_the_key_works():
    lines = run("create_tenant", "--name", "Acme Support", "--timezone", "Asia/Shanghai", "--json")
    data = json.loads(lines[-1])
    assert data["tenant"] == "acme-support"
    tenant = Tenant.objects.get(slug="acme-support")
    assert tenant.timezone == "Asia/Shanghai"
    assert sorted(ApiKey.objects.get(tenant=tenant).scopes) == ["ingest", "manage", "read"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {data['api_key']}")
    assert client.get("/api/v1/agents").status_code == 200


def test_same_name_twice_gets_a_unique_slug():
    first = json.loads(run("create_tenant", "--name", "Acme", "--json")[-1])
    second = json.loads(run("create_tenant", "--name", "Acme", "--json")[-1])
    assert first["tenant"] == "acme"
    assert second["tenant"] == "acme-2"


def test_unknown_timezone_is_a_command_error():
    with pytest.raises(CommandError, match="timezone"):
        run("create_tenant", "--name", "X", "--timezone", "Mars/Olympus")
    assert not Tenant.objects.exists()


def test_create_api_key_with_scopes():
    run("create_tenant", "--name", "Acme", "--json")
    data = json.loads(
        run("create_api_key", "--tenant", "acme", "--scopes", "ingest,read", "--json")[-1]
    )
    key = ApiKey.objects.get(prefix=data["api_key"].split(".")[0])
    assert sorted(key.scopes) == ["ingest", "read"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "ghost"], "No tenant"),
        (["--tenant", "acme", "--scopes", "read,admin"], "scopes"),
        (["--tenant", "acme", "--scopes", ""], "scopes"),
    ],
)
def test_create_api_key_errors(args, message):
    run("create_tenant", "--name", "Acme")
    with pytest.raises(CommandError, match=message):
        run("create_api_key", *args)
