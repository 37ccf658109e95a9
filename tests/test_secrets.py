"""Secrets are never stored or logged in plain text (issue 19, item 5).

One run creates every kind of secret the product hands out — API keys (by command, service
and admin page), widget tokens, and the signing key they are signed with — and uses each of
them, right and wrong, with every log record of every logger kept (SQL statements too). Then
it greps a `pg_dump` of the whole database and those logs for each secret.

A second test does the same through the real processes the integration tests start (gunicorn
and the Celery worker, tests/integration/live.py) at their most talkative, and greps their log
files: gunicorn's access and error log, the worker's log (it signs webhook deliveries).

A new kind of secret is covered by adding one maker to `make_secrets` and `make_secrets_live`
that returns the secret as the user sees it.
"""

from __future__ import annotations

import http.server
import io
import json
import logging
import re
import secrets
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.models import ApiKey, Tenant
from accounts.services import agent_upsert, api_key_create, team_upsert
from bench.stack import free_port, wait_until
from tests.integration.live import live_stack

pytestmark = pytest.mark.django_db(transaction=True)

SIGNING_KEY = "sk-" + secrets.token_urlsafe(48)


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def api_key_secrets(raw: str) -> list[str]:
    """A key as shown, and its secret part (the prefix before the dot is public)."""
    return [raw, raw.partition(".")[2]]


def widget_token_secrets(token: str) -> list[str]:
    """A token as shown, and its signature (the payload before it is only encoded)."""
    return [token, token.rpartition(":")[2]]


def make_secrets() -> dict[str, list[str]]:
    """Create and use every kind of secret; {what: [the strings that must never be seen]}."""
    found: dict[str, list[str]] = {"signing key": [SIGNING_KEY]}

    out = io.StringIO()
    call_command("create_tenant", "--name", "Secret Keepers", "--json", stdout=out)
    command_key = json.loads(out.getvalue().strip().splitlines()[-1])["api_key"]
    found["API key from create_tenant"] = api_key_secrets(command_key)
    tenant = Tenant.objects.get(slug="secret-keepers")

    out = io.StringIO()
    call_command(
        "create_api_key", "--tenant", tenant.slug, "--scopes", "read", "--json", stdout=out
    )
    found["API key from create_api_key"] = api_key_secrets(
        json.loads(out.getvalue().strip().splitlines()[-1])["api_key"]
    )
    _, service_key = api_key_create(tenant=tenant, scopes=["ingest", "read"], name="svc")
    found["API key from the service"] = api_key_secrets(service_key)

    operator = get_user_model().objects.create_superuser("operator", password="op-password-1")
    admin = Client()
    admin.force_login(operator)
    page = admin.post(
        "/admin/accounts/apikey/add/",
        {"tenant": tenant.pk, "name": "from admin", "scopes": ["read"]},
        follow=True,
    )
    shown = [str(m) for m in get_messages(page.wsgi_request)] or [page.content.decode()]
    admin_key = next(
        word.rstrip(".,")
        for message in shown
        for word in message.split()
        if "." in word and word.split(".")[0] in ApiKey.objects.values_list("prefix", flat=True)
    )
    found["API key from the admin"] = api_key_secrets(admin_key)

    team_upsert(tenant=tenant, external_id="t1", name="Tier 1", parent_external_id=None)
    agent_upsert(tenant=tenant, external_id="a1", display_name="Ann", team_external_id="t1")
    platform = bearer(command_key)
    minted = platform.post("/api/v1/widget-tokens", {"agent": "a1"}, format="json")
    assert minted.status_code == 201, minted.content
    token = minted.json()["token"]
    found["widget token"] = widget_token_secrets(token)

    # every secret used: accepted, and once tampered with (refused, which logs a warning)
    for what, values in found.items():
        if what == "signing key" or what.startswith("webhook"):
            continue
        shown_secret = values[0]
        client = bearer(shown_secret)
        assert client.get("/api/v1/whoami").status_code == 200, what
        assert bearer(shown_secret[:-2] + "xx").get("/api/v1/whoami").status_code == 401
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    event = {
        "event_id": "e1",
        "type": "interaction",
        "agent": "a1",
        "answered": True,
        "occurred_at": hour.isoformat(),
        "talk_seconds": 60,
    }
    posted = bearer(service_key).post("/api/v1/events", {"events": [event]}, format="json")
    assert posted.status_code == 202, posted.content
    assert bearer(token).get("/api/v1/agents/a1/profile").status_code == 200

    # webhook signing secrets: shown at creation and at rotation, never again
    hook = platform.post(
        "/api/v1/webhooks",
        {"url": "https://hooks.example.com/gamify", "events": ["badge.awarded"]},
        format="json",
    )
    assert hook.status_code == 201, hook.content
    created = hook.json()["secret"]
    found["webhook secret at creation"] = [created, created.removeprefix("whsec_")]
    rotated = platform.post(f"/api/v1/webhooks/{hook.json()['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.content
    secret = rotated.json()["secret"]
    assert secret != created
    found["webhook secret at rotation"] = [secret, secret.removeprefix("whsec_")]
    assert created not in platform.get(f"/api/v1/webhooks/{hook.json()['id']}").content.decode()
    return found


def database_dump() -> str:
    db = connection.settings_dict
    return subprocess.run(
        [
            "pg_dump",
            "--no-owner",
            "--host", str(db["HOST"] or "127.0.0.1"),
            "--port", str(db["PORT"] or 5432),
            "--username", str(db["USER"] or "postgres"),
            str(db["NAME"]),
        ],
        capture_output=True, text=True, check=True, timeout=120,
        env={"PGPASSWORD": str(db.get("PASSWORD") or ""), "PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip


@pytest.mark.skipif(not settings.USING_POSTGRES, reason="pg_dump needs PostgreSQL")
def test_no_secret_is_in_a_database_dump_or_the_logs(caplog: Any) -> None:
    # every logger at every level, including those the settings quiet (django.request, ...)
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    connection.force_debug_cursor = True  # and every SQL statement with its parameters
    try:
        with override_settings(SECRET_KEY=SIGNING_KEY):
            created = make_secrets()
    finally:
        connection.force_debug_cursor = False
    logs = "\n".join(
        f"{record.getMessage()} {record.args!r} {getattr(record, 'params', '')!r}"
        for record in caplog.records
    )
    dump = database_dump()

    # the greps look at the real thing: the run's rows and its log lines are there
    assert "Secret Keepers" in dump
    prefix = created["API key from the service"][0].partition(".")[0]
    assert prefix in dump  # stored: the public prefix and a hash
    assert "Unauthorized: /api/v1/whoami" in logs
    assert "accounts_apikey" in logs  # SQL statements on the keys' table

    for what, values in created.items():
        for value in values:
            assert len(value) >= 16, (what, value)
            assert value not in dump, f"{what} found in the database dump"
            assert value not in logs, f"{what} found in the logs"


# --- the real processes: gunicorn and the Celery worker, their own logs ------------------------
class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver on loopback: keeps what the worker delivered."""

    received: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append({**dict(self.headers), "body": body.decode()})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def admin_session(live: Any, username: str, password: str) -> requests.Session:
    """A browser's session on the live admin: logged in through the login form (CSRF)."""
    session = requests.Session()
    page = session.get(f"{live.base_url}/admin/login/", timeout=30)
    assert page.status_code == 200, page.text[:300]
    logged_in = session.post(
        f"{live.base_url}/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "username": username,
            "password": password,
            "next": "/admin/",
        },
        headers={"Referer": f"{live.base_url}/admin/login/"},
        timeout=30,
    )
    assert logged_in.status_code == 200
    assert "/admin/logout/" in logged_in.text
    return session


def make_secrets_live(live: Any, receiver: str) -> dict[str, list[str]]:
    """Every kind of secret made and used through the live processes, as clients do."""
    found: dict[str, list[str]] = {"API key from create_tenant": api_key_secrets(live.api_key)}
    tenant = Tenant.objects.get(slug="client")
    out = live.stack.manage(
        "create_api_key", "--tenant", tenant.slug, "--scopes", "ingest,read,manage", "--json"
    )
    found["API key from create_api_key"] = api_key_secrets(
        json.loads(out.strip().splitlines()[-1])["api_key"]
    )

    password = "op-" + secrets.token_urlsafe(12)
    get_user_model().objects.create_superuser("operator", password=password)
    admin = admin_session(live, "operator", password)
    form = admin.get(f"{live.base_url}/admin/accounts/apikey/add/", timeout=30)
    assert form.status_code == 200
    added = admin.post(
        f"{live.base_url}/admin/accounts/apikey/add/",
        data={
            "csrfmiddlewaretoken": admin.cookies["csrftoken"],
            "tenant": tenant.pk,
            "name": "from admin",
            "scopes": ["read"],
        },
        headers={"Referer": f"{live.base_url}/admin/accounts/apikey/add/"},
        timeout=30,
    )
    assert added.status_code == 200, added.text[:300]
    prefix = ApiKey.objects.get(tenant=tenant, name="from admin").prefix
    admin_key = next(
        word.rstrip(".,<\"'")
        for word in re.split(r"[\s>]+", added.text)
        if word.startswith(f"{prefix}.")
    )
    found["API key from the admin"] = api_key_secrets(admin_key)

    api, key = live.api, found["API key from create_api_key"][0]

    def call(method: str, path: str, secret: str = key, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {secret}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{api}{path}", headers=headers, timeout=30, **kwargs)

    assert call("PUT", "/teams/t1", json={"name": "Tier 1"}).status_code in (200, 201)
    assert call("PUT", "/agents/a1", json={"display_name": "Ann", "team": "t1"}).status_code in (
        200,
        201,
    )
    minted = call("POST", "/widget-tokens", json={"agent": "a1"})
    assert minted.status_code == 201, minted.text
    token = minted.json()["token"]
    found["widget token"] = widget_token_secrets(token)

    hook = call("POST", "/webhooks", json={"url": receiver, "events": ["*"]})
    assert hook.status_code == 201, hook.text
    created = hook.json()["secret"]
    found["webhook secret at creation"] = [created, created.removeprefix("whsec_")]
    rotated = call("POST", f"/webhooks/{hook.json()['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    secret = rotated.json()["secret"]
    found["webhook secret at rotation"] = [secret, secret.removeprefix("whsec_")]
    assert call("POST", f"/webhooks/{hook.json()['id']}/test").status_code == 202

    # every key used, accepted and once tampered with; the token on its pages, right and wrong
    for what, values in found.items():
        if what.startswith("API key"):
            assert call("GET", "/whoami", values[0]).status_code == 200, what
            assert call("GET", "/whoami", values[0][:-2] + "xx").status_code == 401, what
    for query in (f"token={token}", f"token={token}&fragment=1", f"token={token[:-2]}xx"):
        page = requests.get(f"{live.base_url}/widgets/agent?{query}", timeout=30)
        assert page.status_code == (401 if query.endswith("xx") else 200), query
    assert call("GET", "/agents/a1/profile", token).status_code == 200
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    event = {"event_id": "e1", "type": "interaction", "agent": "a1", "answered": True,
             "occurred_at": hour.isoformat(), "talk_seconds": 60}  # fmt: skip
    assert call("POST", "/events", json={"events": [event]}).status_code == 202
    wait_until(lambda: call("GET", "/ingest/status").json()["pending"] == 0, what="applied")
    wait_until(lambda: Receiver.received, what="the webhook's ping delivered")
    return found


@pytest.mark.slow
@pytest.mark.skipif(not settings.USING_POSTGRES, reason="the live stack needs PostgreSQL")
def test_no_secret_is_in_the_logs_of_the_live_gunicorn_and_worker(tmp_path: Path) -> None:
    """The same secrets, made and used through real gunicorn and Celery worker processes at
    their most talkative (LOG_LEVEL=DEBUG, gunicorn's access log, celery --loglevel DEBUG):
    their log files hold none of them."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver = f"http://127.0.0.1:{server.server_address[1]}/hook"
    logs = tmp_path / "logs"
    try:
        with live_stack(
            tmp_path,
            log_dir=logs,
            SECRET_KEY=SIGNING_KEY,
            LOG_LEVEL="DEBUG",
            SECURE_COOKIES="false",  # the admin's session cookie over plain http on loopback
            WEBHOOKS_ALLOW_HTTP="true",
            WEBHOOKS_ALLOW_PRIVATE_NETWORKS="true",
        ) as live:
            created = {"signing key": [SIGNING_KEY], **make_secrets_live(live, receiver)}
            text = live.stack.logs()
    finally:
        server.shutdown()

    # the grep looks at the real thing: both processes' logs, with the requests that used them
    assert sorted(p.name for p in logs.glob("*.log")) == ["web.log", "worker.log"]
    assert '"GET /api/v1/whoami HTTP/1.1" 401' in text  # gunicorn's access log
    assert "GET /widgets/agent?token=[redacted]" in text
    assert "kpis.apply_pending" in text
    assert "webhooks" in text
    assert Receiver.received[0]["X-Gamify-Signature"].startswith("sha256=")
    for what, values in created.items():
        for value in values:
            assert len(value) >= 16, (what, value)
            assert value not in text, f"{what} found in the live processes' logs"
