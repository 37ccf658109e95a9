"""The OpenAPI schema validates and documents every API route."""

from __future__ import annotations

import io
import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver


def api_routes() -> set[str]:
    found: set[str] = set()

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith("api/v1/"):
                    found.add("/" + re.sub(r"<(?:str|int|path):", "{", route).replace(">", "}"))

    walk(get_resolver().url_patterns)
    return found


@pytest.mark.django_db
def test_schema_validates_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    documented = set(schema["paths"])
    assert api_routes() <= documented, api_routes() - documented
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "200" in operation["responses"] or any(
                code.startswith("2") for code in operation["responses"]
            ), (method, path)


@pytest.mark.django_db
def test_errors_are_documented_as_problem_json():
    # Generated clients (and schemathesis) check the media type: errors are sent as
    # application/problem+json, so the schema must say so.
    out = io.StringIO()
    call_command("spectacular", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    errors = [
        (method, path, code, sorted(response.get("content", {})))
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for code, response in operation["responses"].items()
        if code[0] in "45"
    ]
    assert errors
    wrong = [e for e in errors if e[3] != ["application/problem+json"]]
    assert not wrong, wrong


@pytest.mark.django_db
def test_request_bodies_that_refuse_unknown_fields_say_so(api):
    out = io.StringIO()
    call_command("spectacular", stdout=out)
    components = yaml.safe_load(out.getvalue())["components"]["schemas"]
    for name in ("TeamInputRequest", "ContestInputRequest", "EventBatchRequest"):
        assert components[name]["additionalProperties"] is False, name
    # … and the server does refuse them, naming the field.
    response = api.put("/api/v1/teams/t1", {"name": "T", "colour": "red"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"colour": ["Unknown field."]}
    response = api.post("/api/v1/events", {"events": [], "source": "x"}, format="json")
    assert response.status_code == 400
    assert "source" in response.json()["errors"]
