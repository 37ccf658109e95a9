"""Security hygiene (issue 19, item 5): the deploy check, HTTPS headers, the admin login's
lockout and per-tenant rate limits."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import Membership, Tenant
from core.security import client_ip

ROOT = Path(__file__).resolve().parent.parent


def production(**env: str) -> dict[str, str]:
    """The environment of a production process: no DEBUG, a long random key, TLS at a proxy."""
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "BEHIND_TLS": "true",
        **env,
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_check_deploy_is_clean_under_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_names_what_plain_http_lacks():
    result = run(["manage.py", "check", "--deploy"], production(BEHIND_TLS="false"))
    assert "security.W004" in result.stderr  # no HSTS
    assert "security.W008" in result.stderr  # no redirect to HTTPS
    assert "security.W003" not in result.stderr  # our CSRF middleware is recognised


def test_behind_tls_turns_on_hsts_and_the_redirect():
    show = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD]))"
    )
    env = {**production(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    tls = run(["-c", show], env)
    assert json.loads(tls.stdout.splitlines()[-1]) == [True, 31_536_000, True, True]
    plain = run(["-c", show], {**env, "BEHIND_TLS": "false"})
    assert json.loads(plain.stdout.splitlines()[-1]) == [False, 0, False, False]
    custom = run(["-c", show], {**env, "HSTS_SECONDS": "600", "HSTS_PRELOAD": "false"})
    assert json.loads(custom.stdout.splitlines()[-1]) == [True, 600, True, False]


TLS = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
}


@pytest.mark.django_db
def test_every_answer_says_nosniff_and_its_referrer_policy(api):
    for response in (api.get("/api/v1/whoami"), Client().get("/admin/login/")):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response  # not behind TLS


@pytest.mark.django_db
def test_behind_tls_https_answers_carry_hsts_and_http_is_redirected(api):
    with override_settings(**TLS):
        api.handler.load_middleware()  # SecurityMiddleware reads its settings when built
        secure = api.get("/api/v1/whoami", HTTP_X_FORWARDED_PROTO="https")
        assert secure.status_code == 200
        assert secure["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains; preload"
        )
        plain = api.get("/api/v1/whoami")
        assert plain.status_code == 301
        assert plain["Location"] == "https://testserver/api/v1/whoami"
        # load balancers and scrapers probe over plain HTTP
        client = Client()
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200


# --- the admin login's lockout ---------------------------------------------------------------


@pytest.fixture
def manager(tenant):
    user = get_user_model().objects.create_user(
        "floor-manager", password="right-password-1", is_staff=True
    )
    Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.MANAGER)
    return user


def login(client: Client, password: str, address: str = "203.0.113.7"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "floor-manager", "password": password},
        REMOTE_ADDR=address,
    )


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=5, AXES_COOLOFF_TIME=timedelta(minutes=15))
def test_the_fifth_wrong_password_locks_the_login_out_and_says_so(manager):
    client = Client()
    for _ in range(4):
        page = login(client, "wrong")
        assert page.status_code == 200
        assert "Please enter the correct username and password" in page.content.decode()
    locked = login(client, "wrong")
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Too many failed logins" in text
    assert "locked after 5 failed login attempts" in text
    assert "Try again in 15 minutes" in text
    assert locked["Retry-After"] == "900"
    # locked: even the right password is refused, and no session is opened
    again = login(client, "right-password-1")
    assert again.status_code == 429
    assert client.get("/admin/").status_code == 302  # to the login page
    # the same user from another address is not locked out by a stranger's guesses
    assert login(Client(), "right-password-1", address="198.51.100.1").status_code == 302


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=3, AXES_COOLOFF_TIME=timedelta(minutes=15))
def test_the_lockout_ends_after_the_cool_off(manager):
    client = Client()
    for _ in range(3):
        login(client, "wrong")
    assert login(client, "right-password-1").status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        welcome = login(client, "right-password-1")
        assert welcome.status_code == 302
        assert welcome["Location"] == "/admin/"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.1.1.1", "10.0.0.5"),  # no proxy trusted: the header is the client's word
        (1, "1.1.1.1", "1.1.1.1"),
        (1, "6.6.6.6, 1.1.1.1", "1.1.1.1"),  # a forged left-most entry is ignored
        (2, "1.1.1.1, 10.0.0.9", "1.1.1.1"),
        (2, "1.1.1.1", "10.0.0.5"),  # fewer entries than proxies: not through them
    ],
)
def test_the_lockout_counts_the_address_the_trusted_proxies_saw(
    rf, settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = rf.get("/admin/login/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.5")
    assert client_ip(request) == expected


# --- per-tenant rate limits ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tenants_own_rate_limit_is_used_and_others_keep_the_default(
    tenant, outsider, api, outsider_api
):
    Tenant.objects.filter(pk=tenant.pk).update(api_rate_limit_per_minute=3)
    with override_settings(API_RATE_LIMIT_PER_MINUTE=5):
        ours = [api.get("/api/v1/whoami").status_code for _ in range(5)]
        theirs = [outsider_api.get("/api/v1/whoami").status_code for _ in range(6)]
    assert ours == [200, 200, 200, 429, 429]
    assert theirs == [200] * 5 + [429]


def tenant_form(tenant: Tenant, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": tenant.name,
        "slug": tenant.slug,
        "timezone": tenant.timezone,
        "week_start": tenant.week_start,
        "auto_create_agents": "on",
        "widget_origins": "[]",
        "api_rate_limit_per_minute": "",
    }
    form.update(changes)
    return form


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_superuser("operator", password="op-password-1")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_an_operator_sets_a_tenants_limit_in_admin_and_it_applies_at_once(tenant, api, operator):
    assert api.get("/api/v1/whoami").status_code == 200  # the key is now cached
    url = f"/admin/accounts/tenant/{tenant.pk}/change/"
    saved = operator.post(url, tenant_form(tenant, api_rate_limit_per_minute="2"))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    tenant.refresh_from_db()
    assert tenant.api_rate_limit_per_minute == 2
    # the whoami above counted too
    assert [api.get("/api/v1/whoami").status_code for _ in range(2)] == [200, 429]
    # emptied: the deployment's limit again
    operator.post(url, tenant_form(tenant))
    tenant.refresh_from_db()
    assert tenant.api_rate_limit_per_minute is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("10000001", "Ensure this value is less than or equal to 10000000."),
        ("lots", "Enter a whole number."),
    ],
)
def test_a_limit_out_of_range_is_refused_on_the_form(tenant, operator, value, message):
    url = f"/admin/accounts/tenant/{tenant.pk}/change/"
    page = operator.post(url, tenant_form(tenant, api_rate_limit_per_minute=value))
    assert page.status_code == 200
    assert message in page.content.decode()
    tenant.refresh_from_db()
    assert tenant.api_rate_limit_per_minute is None


@pytest.mark.django_db
def test_a_tenants_owner_sees_the_limit_but_cannot_change_it(tenant, client):
    owner = get_user_model().objects.create_user("owner", password="pw-123456789", is_staff=True)
    Membership.objects.create(user=owner, tenant=tenant, role=Membership.Role.OWNER)
    Tenant.objects.filter(pk=tenant.pk).update(api_rate_limit_per_minute=100)
    client.force_login(owner)
    url = f"/admin/accounts/tenant/{tenant.pk}/change/"
    page = client.get(url).content.decode()
    assert "API rate limit per minute" in page
    assert 'name="api_rate_limit_per_minute"' not in page  # shown, not editable
    client.post(url, tenant_form(tenant, api_rate_limit_per_minute="9999999"))
    tenant.refresh_from_db()
    assert tenant.api_rate_limit_per_minute == 100
