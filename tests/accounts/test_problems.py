"""Every error under /api/ is problem+json (RFC 9457), never HTML, never a bare 500."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.helpers import problem

pytestmark = pytest.mark.django_db


def test_400_names_fields(api):
    body = problem(api.put("/api/v1/teams/t", {"name": 7}, format="json"), 400)
    assert body["type"].endswith("validation-error")
    assert body["errors"] == {"name": ["Not a valid string."]}
    assert body["detail"].startswith("name:")


def test_malformed_json_is_400(api):
    response = api.generic("PUT", "/api/v1/teams/t", b'{"name": ', content_type="application/json")
    assert "body" in problem(response, 400)["errors"]


def test_unknown_url_is_404_problem(api):
    problem(api.get("/api/v1/does-not-exist"), 404)
    problem(api.get("/api/nope"), 404)


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("/api/v1/agents/a%00b", "path"),
        ("/api/v1/teams?parent=a%00b", "parent"),
        ("/api/v1/leaderboards?around=%00", "around"),
        ("/api/v1/agents?x%00=1", "x\\0"),
    ],
)
def test_a_null_character_in_the_url_is_a_400_naming_where(api, url, where):
    # PostgreSQL text cannot hold NUL: these were 500s from the first lookup they reached.
    body = problem(api.get(url), 400)
    assert body["errors"] == {where: ["Null characters are not allowed."]}
    assert body["detail"] == f"{where}: Null characters are not allowed."


def test_an_escaped_percent_zero_zero_is_no_null_character(api):
    assert api.get("/api/v1/agents?x=%2500").status_code == 200


def test_a_null_character_in_a_page_url_is_a_plain_400(admin_client):
    response = admin_client.get("/admin/accounts/agent/?q=a%00b")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"q: Null characters are not allowed."


def test_405(api):
    problem(api.post("/api/v1/agents", {}, format="json"), 405)


def test_406(api):
    problem(api.get("/api/v1/agents", HTTP_ACCEPT="text/html"), 406)
    problem(api.get("/api/v1/agents", HTTP_ACCEPT="application/xml;q=1"), 406)


@pytest.mark.parametrize(
    "accept", ["", "*/*", "application/json", "application/*", "text/html, application/json;q=0.5"]
)
def test_json_is_served_to_every_accept_that_allows_it(api, accept):
    response = api.get("/api/v1/agents", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_pages_carry_a_content_security_policy_and_json_does_not(api, client, db):
    assert "Content-Security-Policy" not in api.get("/api/v1/agents")
    page = client.get("/admin/login/")
    assert page.status_code == 200
    assert "default-src 'self'" in page["Content-Security-Policy"]


def test_413_for_a_10_mb_body(api):
    body = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = api.generic("PUT", "/api/v1/teams/t", body, content_type="application/json")
    problem(response, 413)


def test_415(api):
    response = api.generic("PUT", "/api/v1/teams/t", b"name=x", content_type="text/plain")
    problem(response, 415)


@pytest.mark.urls("tests.urls_testing")
def test_500_is_a_problem_and_logged(api, caplog):
    response = api.get("/api/v1/_test/boom")
    body = problem(response, 500)
    assert "a bug" not in body["detail"]  # internals are logged, not shown
    assert any("Unhandled error" in r.message for r in caplog.records)


def test_429_with_retry_after(api):
    with override_settings(API_RATE_LIMIT_PER_MINUTE=3):
        for _ in range(3):
            assert api.get("/api/v1/agents").status_code == 200
        response = api.get("/api/v1/agents")
    problem(response, 429)
    assert 1 <= int(response["Retry-After"]) <= 60


def test_rate_limit_is_per_key(tenant, make_client):
    first, second = make_client(tenant), make_client(tenant)
    with override_settings(API_RATE_LIMIT_PER_MINUTE=2):
        first.get("/api/v1/agents")
        first.get("/api/v1/agents")
        problem(first.get("/api/v1/agents"), 429)
        assert second.get("/api/v1/agents").status_code == 200


def test_non_api_urls_keep_html(client, db):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "problem" not in response["Content-Type"]
